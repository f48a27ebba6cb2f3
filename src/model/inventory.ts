/**
 * The inventory model: what `loadInventory` returns after validation and merging of
 * every `-i` file (later files win key by key). Shapes follow docs/reference/inventory.md.
 */

/** `strict` refuses unknown and changed keys; `accept-new` records unknown keys, refuses changed ones; `off` only via --insecure-host-keys. */
export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** Vars are plain YAML data. */
export type Vars = Record<string, unknown>;

/** One inventory host with its connection settings resolved from `defaults` and its own keys. */
export interface Host {
  /** Inventory name, `^[A-Za-z0-9][A-Za-z0-9_.-]*$`. */
  name: string;
  /** Address to connect to; the name when the inventory gives none (then ~/.ssh/config applies to it). */
  address: string;
  /** True when the inventory set `address` explicitly. */
  addressExplicit: boolean;
  transport: 'ssh' | 'local';
  /** SSH user; undefined = ~/.ssh/config, else the current user. */
  user?: string;
  /** SSH port; undefined = ~/.ssh/config, else 22. */
  port?: number;
  /** Private key file (`~` expanded by the transport). */
  identity?: string;
  /** known_hosts file; default ~/.ssh/known_hosts. */
  knownHosts?: string;
  hostKeyPolicy: HostKeyPolicy;
  /** Name of another inventory host used as bastion. */
  jump?: string;
  /** `give_up` (host, else defaults): seconds (>= 1) without a word from orch after which the host's agent stops the run there; undefined = the built-in 30 s. */
  giveUpSeconds?: number;
  /** `become: true` (host, else defaults): the user (`become_user`, default root) every command on the host runs as, through `sudo -n`. */
  become?: string;
  /** Groups containing this host, directly or through `children`, sorted. */
  groups: string[];
  /** Roles this host is in, sorted. */
  roles: string[];
  /**
   * Inventory-level vars, already merged by precedence:
   * defaults.vars < group vars (parents before children) < host vars.
   */
  vars: Vars;
}

/** A group: its resolved hosts (incl. children's) and own vars. */
export interface Group {
  name: string;
  /** Every host of the group, including through children, sorted by name. */
  hosts: string[];
  children: string[];
  vars: Vars;
}

/** The merged, validated inventory. */
export interface Inventory {
  /** Absolute paths of the files it was loaded from, in order. */
  files: string[];
  /** Hosts by name, in file order. */
  hosts: Map<string, Host>;
  /** Role name -> host names (globs resolved), sorted by name. */
  roles: Map<string, string[]>;
  groups: Map<string, Group>;
  /**
   * For an inventory read from an Ansible file: Ansible's groups in Ansible's order
   * (`all`, `ungrouped`, then in creation order), each with its hosts in Ansible's
   * `Group.get_hosts()` order — what `--limit` subscripts such as `web[0]` index
   * (src/compile/limit.ts). Absent for orch inventories.
   */
  patternOrder?: Map<string, string[]>;
}
