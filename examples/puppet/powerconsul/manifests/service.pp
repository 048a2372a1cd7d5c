# One Consul service made of local services (its title is the Consul service name): the init
# script /etc/init.d/<title> (an LSB header and one exec) that hands every action to
# `powerconsul service`, the Consul service definition with the powerconsul check, and the two
# key watches start-primary needs on every node of the cluster. Declared by the powerconsul class
# from its $services, or directly (the class is included either way). Dependencies: see the
# powerconsul class.
define powerconsul::service (
  # In start order; one gives a `check service`, several a `check servicegroup`.
  Array[Pattern[/\A[A-Za-z0-9@._-]+\z/], 1] $local_services,
  # The check gets the same path, so it passes while a restart or a switch holds the lock file.
  # In /run/powerconsul (powerconsul creates it, 0700) or a root-only directory under /var/lock
  # or /run/lock: powerconsul refuses a lock file in a directory others can write.
  Pattern[
    /\A\/run\/powerconsul\/[A-Za-z0-9._-]+\z/,
    /\A\/(var|run)\/lock\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\z/
  ] $lock_file = "/run/powerconsul/${title}.lock",
  # -U: a standby that finds no active passing flips the cluster document.
  Boolean $failover = true,
  String[1] $interval = '5s',
  String[1] $timeout = '20s',
  Optional[Stdlib::Port] $port = undef,
  Array[String[1]] $tags = [],
  # The promote/demote key watches; only clustered services need them.
  Boolean $switch_watches = true,
) {
  include powerconsul
  # The name becomes a KV key segment, a file name and a shell word in the init script.
  if $title !~ /\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z/ {
    fail("powerconsul::service: '${title}' is not a usable service name (letters, digits, . _ -)")
  }
  $binary = $powerconsul::binary
  $dir = $powerconsul::consul_config_dir
  $init_script = "/etc/init.d/${title}"
  $locals = join($local_services, ',')

  # `service` runs init scripts with an empty environment, so the script names the config and
  # the agent. Every word in it is validated above, so nothing needs quoting.
  $config_file = $powerconsul::config_file
  $http_addr = $powerconsul::http_addr
  $description = "${join($local_services, ', ')}, started and stopped by the ${title} cluster's role"
  $script = @("SCRIPT"/$)
    #!/bin/sh
    ### BEGIN INIT INFO
    # Provides:          ${title}
    # Required-Start:    \$remote_fs \$network consul
    # Required-Stop:     \$remote_fs \$network consul
    # Default-Start:     2 3 4 5
    # Default-Stop:      0 1 6
    # Short-Description: ${description}
    ### END INIT INFO
    exec ${binary} service ${title} "\$@" -S ${title} -s ${locals} -F ${lock_file} --config ${config_file} --http-addr ${http_addr}
    | SCRIPT

  file { $init_script:
    ensure  => file,
    content => $script,
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    require => File[$binary, $config_file],
  }

  $kind = $local_services.length ? { 1 => 'service', default => 'servicegroup' }
  $check_args = [$binary, 'check', $kind, '-s', $locals, '-S', $title] + ($failover ? {
    true  => ['-U'],
    false => [],
  }) + ['-F', $lock_file]
  $service = {
    'name'                => $title,
    'tags'                => $tags,
    'enable_tag_override' => true, # the check tags a healthy standby nodns
    'check'               => {
      'id'       => "${title}-powerconsul",
      'args'     => $check_args,
      'interval' => $interval,
      'timeout'  => $timeout,
    },
  }
  $definition = {
    'service' => $port ? { undef => $service, default => $service + { 'port' => $port } },
  }
  file { "${dir}/powerconsul-${title}-check.json":
    ensure  => file,
    content => to_json_pretty($definition),
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    require => File[$binary, $powerconsul::config_file],
    notify  => Exec[$powerconsul::reload],
  }

  if $switch_watches {
    $prefix = "${powerconsul::service_prefix}/${title}/${powerconsul::node_name}"
    $watches = {
      'watches' => ['promote', 'demote'].map |$flag| {
        { 'type' => 'key', 'key' => "${prefix}/${flag}", 'args' => [$init_script, $flag] }
      },
    }
    file { "${dir}/powerconsul-${title}-switch-watches.json":
      ensure  => file,
      content => to_json_pretty($watches),
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      require => File[$init_script],
      notify  => Exec[$powerconsul::reload],
    }
  }
}
