# Policy for the token powerconsul uses on every host (CONSUL_HTTP_TOKEN_FILE in the agent's
# environment). Hosts may read triggers but never write them: whoever writes triggers/ runs
# commands as root on every host.
agent_prefix ""        { policy = "read" }    # /v1/agent/self, local checks
node_prefix ""         { policy = "read" }    # health of peers (serfHealth)
service_prefix ""      { policy = "write" }   # nodns tag on the local registration
key_prefix "cluster/"  { policy = "write" }   # -U flip, lock clearing, start-primary
key_prefix "service/"  { policy = "write" }   # promote/demote flags, the .switch lock
key_prefix "triggers/" { policy = "read" }    # actions: read only
session_prefix ""      { policy = "write" }   # start-primary's switch lock
