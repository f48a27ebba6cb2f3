"""Reference for test/integration/ansible-inventory.test.ts: `ansible-inventory -i PATH --list`
for every path of a JSON list on stdin, in one process (InventoryCLI's own json_inventory
with a fresh InventoryManager and VariableManager per inventory; CLIARGS is a process-wide
singleton, so the CLI is parsed once)."""
import json, sys
from ansible.cli.inventory import InventoryCLI
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager
paths = json.load(sys.stdin)
cli = InventoryCLI(['ansible-inventory', '-i', paths[0], '--list'])
cli.parse()
out = []
for path in paths:
    try:
        cli.loader = DataLoader()
        cli.inventory = InventoryManager(loader=cli.loader, sources=[path])
        cli.vm = VariableManager(loader=cli.loader, inventory=cli.inventory)
        out.append(json.loads(cli.dump(cli.json_inventory(cli._get_group('all')))))
    except BaseException as e:
        out.append({"error": "%s: %s" % (type(e).__name__, e)})
json.dump(out, sys.stdout)
