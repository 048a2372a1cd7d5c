# One Consul service made of local services (its title is the Consul service name): the init
# script /etc/init.d/<title> that hands every action to `powerconsul service`, the Consul service
# definition with the powerconsul check, and the two key watches start-primary needs on every node
# of the cluster. Declared by the powerconsul class from its $services, or directly (the class is
# included either way). Dependencies: see the powerconsul class.
define powerconsul::service (
  # In start order; one gives a `check service`, several a `check servicegroup`.
  Array[Pattern[/\A[A-Za-z0-9@._-]+\z/], 1] $local_services,
  # Under /var/lock or /run/lock: the binary's sandbox writes nowhere else. The check gets the
  # same path, so it passes while a restart or a switch holds the lock file.
  Pattern[/\A\/(var|run)\/lock\/[A-Za-z0-9._-]+\z/] $lock_file = "/var/lock/${title}.lock",
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

  # The whole script is its second line; all of it is validated above, so nothing needs quoting.
  file { $init_script:
    ensure  => file,
    content => "#!/bin/sh\nexec ${binary} service ${title} \"\$@\" -S ${title} -s ${locals} -F ${lock_file}\n",
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    require => File[$binary, $powerconsul::config_file],
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
