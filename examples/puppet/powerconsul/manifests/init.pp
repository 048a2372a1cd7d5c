# Sketch of a Puppet class deploying powerconsul next to a Consul agent that reads
# /etc/consul.d (enable_local_script_checks = true in the agent's config).
class powerconsul (
  String $cluster_key     = 'cluster/prod',
  String $service_filter  = '^prod-',
  Hash   $sub_vars        = {},
) {
  file { '/usr/local/bin/powerconsul':
    source => 'puppet:///modules/powerconsul/powerconsul-x86_64-unknown-linux-gnu',
    mode   => '0755',
  }
  file { ['/etc/powerconsul', '/var/log/powerconsul']:
    ensure => directory,
    mode   => '0750',
  }
  file { '/etc/powerconsul/config.json':
    content => to_json({
      'clusterKey'    => $cluster_key,
      'serviceFilter' => $service_filter,
      'subVars'       => $sub_vars,
    }),
    mode    => '0600',
  }
  file { '/etc/consul.d/powerconsul-trigger-watches.json':
    source => 'puppet:///modules/powerconsul/powerconsul-trigger-watches.json',
    notify => Exec['consul reload'],
  }
  exec { 'consul reload':
    command     => '/usr/bin/consul reload',
    refreshonly => true,
  }
}
