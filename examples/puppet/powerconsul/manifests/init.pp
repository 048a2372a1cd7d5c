# powerconsul next to a Consul agent: the binary, its config, the trigger watches, and for each
# entry of $services a powerconsul::service (init script, service definition with its check,
# switch watches). Every file the agent reads is in place before one `consul reload` runs.
#
# Dependencies:
#   - Puppet 7 (Debian bookworm's `puppet`, 7.23, is what the repository's test compiles with).
#   - puppetlabs-stdlib 4.13 to 8.x, for to_json_pretty and the Stdlib:: types (Debian package
#     puppet-module-puppetlabs-stdlib, installed under /usr/share/puppet/modules; keep that
#     directory in the modulepath). stdlib 9 renamed the function stdlib::to_json_pretty.
#   - The binary built by scripts/compile.sh, placed in this module as files/powerconsul (or
#     give $binary_source).
#   - A Consul agent, not managed here, that reads $consul_config_dir, has
#     enable_local_script_checks = true, and runs as root (checks, watches and triggers start and
#     stop services). Debian's consul unit runs the agent as the user consul: override User=.
#
# Usage:
#   class { 'powerconsul':
#     cluster_key    => 'cluster/prod',
#     service_filter => '^prod-',
#     services       => { 'web' => { 'local_services' => ['nginx', 'php-fpm'] } },
#   }
class powerconsul (
  Optional[String[1]] $cluster_key = undef,
  Optional[String[1]] $service_filter = undef,
  Hash[String[1], String] $sub_vars = {},
  # Any other key of config.json (noopTriggers, httpTimeout, serviceManager, ...).
  Hash[String[1], Data] $extra_config = {},
  String[1] $service_prefix = 'service',
  # The agent's node name: the switch watches' keys contain it. Consul's default is the host name.
  String[1] $node_name = $facts['networking']['hostname'],
  Stdlib::Filesource $binary_source = 'puppet:///modules/powerconsul/powerconsul',
  Stdlib::Absolutepath $consul_config_dir = '/etc/consul.d',
  Stdlib::Absolutepath $consul_bin = '/usr/bin/consul',
  # The agent's HTTP address, given to the init scripts (`service` clears the environment).
  Pattern[/\A(https?:\/\/)?[A-Za-z0-9.:\[\]-]+\z/] $http_addr = '127.0.0.1:8500',
  # For `consul reload` with ACLs, e.g. ['CONSUL_HTTP_TOKEN_FILE=/etc/powerconsul/reload.token'].
  Array[String[1]] $reload_environment = [],
  Hash[String[1], Hash] $services = {},
) {
  if 'servicePrefix' in $extra_config {
    fail('powerconsul: set service_prefix, not extra_config.servicePrefix (the switch watches use it)')
  }
  # The binary's own sandbox allows these paths only, so they are not parameters.
  $binary = '/usr/local/bin/powerconsul'
  $config_file = '/etc/powerconsul/config.json'
  $reload = 'powerconsul consul reload'

  file { $binary:
    ensure => file,
    source => $binary_source,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
  file { ['/etc/powerconsul', '/var/log/powerconsul']:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0750',
  }
  $config = {
    'clusterKey'    => $cluster_key,
    'serviceFilter' => $service_filter,
    'subVars'       => $sub_vars,
    'servicePrefix' => $service_prefix,
  } + $extra_config
  file { $config_file:
    ensure  => file,
    content => to_json_pretty($config, true),
    owner   => 'root',
    group   => 'root',
    mode    => '0600',
  }

  # One pair per agent: the checks watches that run `powerconsul watch` for warning and critical.
  $trigger_watches = {
    'watches' => ['critical', 'warning'].map |$state| {
      { 'type' => 'checks', 'state' => $state, 'args' => [$binary, 'watch', $state] }
    },
  }
  file { "${consul_config_dir}/powerconsul-trigger-watches.json":
    ensure  => file,
    content => to_json_pretty($trigger_watches),
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    require => File[$binary, $config_file],
    notify  => Exec[$reload],
  }

  exec { $reload:
    command     => "${consul_bin} reload",
    environment => $reload_environment,
    refreshonly => true,
    logoutput   => on_failure,
    timeout     => 60,
  }

  $services.each |$name, $params| {
    powerconsul::service { $name:
      * => $params,
    }
  }
}
