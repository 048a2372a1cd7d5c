#!/bin/sh
# Load the example documents and triggers into Consul KV (consul CLI; CONSUL_HTTP_ADDR/TOKEN).
set -e
cd "$(dirname "$0")"
consul kv put cluster/prod/web @cluster-nodes.json
consul kv put triggers/web/standalone/critical 'service nginx restart'
consul kv put triggers/web/primary/critical 'service nginx start'
consul kv put triggers/web/primary/warning '#!/bin/bash
logger -t powerconsul "web is warning on $POWERCONSUL_NODE ($POWERCONSUL_CHECK)"'
