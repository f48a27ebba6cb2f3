"""Reference for test/unit/limit/ansible-diff.test.ts: ansible-core's own pattern code.

Reads a JSON list of {"inventory": PATH, "patterns": [...]} on stdin and prints, per
inventory, per pattern, the host names ansible-playbook --limit would select
(InventoryManager.subset + get_hosts), "ERROR: ..." when Ansible refuses the pattern,
plus every group's get_hosts() order. One process for the whole corpus.

One change to Ansible: Group._walk_relationship iterates a Python *set* of groups
beyond the direct children, so Ansible's host order among grandchildren of different
children is arbitrary (object-id hashing); the patched walk takes them in list order,
which is what orch does. Only subscripts (web[0]) can see the difference.
"""
import json
import sys
from itertools import chain

from ansible.errors import AnsibleError
from ansible.inventory.group import Group
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.utils.display import Display


def _walk_relationship(self, rel, include_self=False, preserve_ordering=False):
    seen = set()
    unprocessed = list(getattr(self, rel))
    if include_self:
        unprocessed.insert(0, self)
    ordered = [self] if include_self else []
    ordered.extend(getattr(self, rel))
    while unprocessed:
        seen.update(unprocessed)
        new_unprocessed = []
        for new_item in chain.from_iterable(getattr(g, rel) for g in unprocessed):
            if new_item not in seen and new_item not in new_unprocessed:
                new_unprocessed.append(new_item)
                ordered.append(new_item)
        unprocessed = new_unprocessed
    return ordered if preserve_ordering else set(ordered)


Group._walk_relationship = _walk_relationship
Display().verbosity = -1

corpus = json.load(sys.stdin)
out = []
loader = DataLoader()
for case in corpus:
    im = InventoryManager(loader=loader, sources=[case["inventory"]])
    results = []
    for p in case["patterns"]:
        try:
            im.clear_caches()
            im.subset(p)
            results.append(sorted(h.name for h in im.get_hosts("all")))
        except AnsibleError as e:
            results.append("ERROR: " + str(e).split("\n")[0])
        except Exception as e:  # Ansible's own crashes (e.g. a lone "!")
            results.append("CRASH: " + type(e).__name__)
        finally:
            im.subset(None)
    order = {g: [h.name for h in grp.get_hosts()] for g, grp in im.groups.items()}
    out.append({"results": results, "order": order, "hosts": list(im.hosts.keys())})
json.dump(out, sys.stdout)
