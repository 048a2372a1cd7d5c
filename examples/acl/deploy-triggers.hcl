# Policy for the deployment pipeline only: the one place allowed to change trigger actions.
key_prefix "triggers/" { policy = "write" }
