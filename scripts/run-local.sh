#!/usr/bin/env bash
# The run command: installs what it needs, builds hostwatch (release preset) and runs a complete
# local stack on loopback, with its data under ./hostwatch-data/ (kept for the next start):
#
#   redis-server, carbon-cache and graphite-web (gunicorn)      the backends, our own copies
#   hostwatch-broker                                           the durable journal
#   hostwatch-collector, hostwatch-logwatch                    this host's samples and log events
#                                                              (system logs plus a demo log)
#   hostwatch-alerter, hostwatch-rediscache, hostwatch-graphite  the consumers
#
# Ctrl-C (or SIGTERM) stops every process by its PID, the consumers first and the backends last.
#
#   scripts/run-local.sh                      build and run
#   HW_NO_BUILD=1 scripts/run-local.sh        run what is already built
# Knobs (environment): HW_BUILD_DIR (default build/release), HW_DATA (default ./hostwatch-data),
# HW_PORT_BASE (default 7400: broker 7400-7402, carbon 7403-7405, redis 7406, graphite-web 7407),
# HW_INTERVAL (collector and logwatch interval, default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${HW_BUILD_DIR:-build/release}
DATA=${HW_DATA:-$ROOT/hostwatch-data}
BASE=${HW_PORT_BASE:-7400}
INTERVAL=${HW_INTERVAL:-10s}
P_FRONT=$BASE P_BACK=$((BASE + 1)) P_TAP=$((BASE + 2))
P_CLINE=$((BASE + 3)) P_CPICKLE=$((BASE + 4)) P_CQUERY=$((BASE + 5))
P_REDIS=$((BASE + 6)) P_WEB=$((BASE + 7))

if [[ -z "${HW_NO_BUILD:-}" ]]; then
  scripts/install-deps.sh
  cmake --preset release > /dev/null
  cmake --build --preset release -j "$(nproc)"
fi
[[ -x $BIN/broker/hostwatch-broker ]] || { echo "run-local: nothing built in $BIN" >&2; exit 1; }
mkdir -p "$DATA"/{logs,config,redis,carbon/conf,carbon/storage/whisper,carbon/log,web/log,demo}
LOGS=$DATA/logs CONF=$DATA/config

pids=() names=()
stop_all() {
  trap - INT TERM EXIT
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  echo "hostwatch: stopped (data kept in $DATA)"
}
trap stop_all EXIT
trap 'exit 0' INT TERM  # Ctrl-C: a clean stop (the EXIT trap stops everything)

started() {  # name pid
  names+=("$1")
  pids+=("$2")
  echo "hostwatch: started $1 (pid $2)"
}
waitport() {  # port what
  for _ in $(seq 1 300); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "run-local: $2 did not open port $1; its log is in $LOGS" >&2
  exit 1
}

# --- the backends -----------------------------------------------------------------------------
redis-server --port "$P_REDIS" --bind 127.0.0.1 --dir "$DATA/redis" --save 3600 1 \
  --appendonly no --logfile "$LOGS/redis.log" &
started redis-server $!

cat > "$DATA/carbon/conf/carbon.conf" << EOF
[cache]
USER =
STORAGE_DIR = $DATA/carbon/storage
LOCAL_DATA_DIR = $DATA/carbon/storage/whisper
LOG_DIR = $DATA/carbon/log
PID_DIR = $DATA/carbon
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 500
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $P_CLINE
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $P_CPICKLE
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $P_CQUERY
ENABLE_UDP_LISTENER = False
ENABLE_TAGS = False
CARBON_METRIC_INTERVAL = 0
EOF
# The collector's steps (deploy/graphite/storage-schemas.conf when the graphite forwarder ships it).
if [[ -f deploy/graphite/storage-schemas.conf ]]; then
  cp deploy/graphite/storage-schemas.conf "$DATA/carbon/conf/storage-schemas.conf"
else
  printf '[default]\npattern = .*\nretentions = 10s:1d,1m:30d\n' > "$DATA/carbon/conf/storage-schemas.conf"
fi
rm -f "$DATA/carbon/carbon-cache-a.pid"  # a kill -9 leaves it, and carbon then refuses to start
/usr/bin/carbon-cache --config="$DATA/carbon/conf/carbon.conf" --nodaemon start \
  > "$LOGS/carbon-cache.log" 2>&1 &
started carbon-cache $!

cat > "$DATA/web/hw_local_settings.py" << EOF
SECRET_KEY = 'hostwatch-local-only'
TIME_ZONE = 'UTC'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
STORAGE_DIR = '$DATA/carbon/storage'
WHISPER_DIR = '$DATA/carbon/storage/whisper'
LOG_DIR = '$DATA/web/log'
INDEX_FILE = '$DATA/web/index'
CONF_DIR = '$DATA/web'
STATIC_ROOT = '/usr/share/graphite-web/static'
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '$DATA/web/graphite.db'}}
CARBONLINK_HOSTS = ['127.0.0.1:$P_CQUERY:a']
EOF
export PYTHONPATH=$DATA/web DJANGO_SETTINGS_MODULE=graphite.settings
export GRAPHITE_SETTINGS_MODULE=hw_local_settings
if [[ ! -f $DATA/web/graphite.db ]]; then
  echo "hostwatch: preparing graphite-web's database (first start only)"
  /usr/bin/django-admin migrate --noinput > "$LOGS/graphite-web-migrate.log" 2>&1
fi
/usr/bin/gunicorn --bind "127.0.0.1:$P_WEB" --workers 2 --access-logfile "$LOGS/graphite-web-access.log" \
  --error-logfile "$LOGS/graphite-web.log" graphite.wsgi:application &
started graphite-web $!
unset PYTHONPATH DJANGO_SETTINGS_MODULE GRAPHITE_SETTINGS_MODULE
waitport "$P_REDIS" redis-server
waitport "$P_CLINE" carbon-cache

# --- hostwatch's configs: loopback, ports as above, data under $DATA ---------------------------
LINK="link:
  brokers: [tcp://127.0.0.1:$P_FRONT]
  backends: [tcp://127.0.0.1:$P_BACK]"
cat > "$CONF/broker.yaml" << EOF
broker:
  frontend: tcp://127.0.0.1:$P_FRONT
  backend: tcp://127.0.0.1:$P_BACK
  tap: tcp://127.0.0.1:$P_TAP
  data_dir: $DATA/broker
  retention_bytes: 1GiB
EOF
cat > "$CONF/collector.yaml" << EOF
collector:
  interval: $INTERVAL
  host_tags: {env: local}
  plugins:
    process:
      matchers:
        - {name: broker, match: {comm: hostwatch-broke}}
        - {name: redis, match: {comm: redis-server}}
    # An exec command reports whatever a script prints, e.g. LVS statistics:
    #   exec: {commands: [{name: lvs, command: "$ROOT/deploy/examples/ipvsadm-stats.sh", interval: 30s}]}
$LINK
  spool_dir: $DATA/spool/collector
EOF
# logwatch: the system's logs where this user can read them, and a demo log the script writes to.
files="    - {path: $DATA/demo/app.log, rules: [app_error, app_slow, app_request], from: beginning}"
for f in /var/log/syslog /var/log/auth.log /var/log/kern.log; do
  [[ -r $f ]] && files+=$'\n'"    - {path: $f, rules: [oom_kill, segfault, ssh_failed]}"
done
cat > "$CONF/logwatch.yaml" << EOF
logwatch:
  interval: $INTERVAL
  state_dir: $DATA/logwatch
  files:
$files
  rules:
    - {name: app_error, match: 'level=error msg="(?P<msg>[^"]*)"', severity: error, emit: [event, count], max_events_per_s: 5}
    - {name: app_slow, match: 'latency_ms=(?P<latency_ms>\d+)', emit: count, values: [latency_ms]}
    - {name: app_request, match: 'method=(?P<method>[A-Z]+)', emit: count}
    - {name: oom_kill, match: 'Out of memory: Killed process', severity: critical, emit: [event, count]}
    - {name: segfault, match: 'segfault at', severity: error, emit: [event, count]}
    - {name: ssh_failed, match: 'sshd\[\d+\]: Failed password', severity: warning, emit: [event, count], max_events_per_s: 2}
$LINK
  spool_dir: $DATA/spool/logwatch
EOF
# The consumers' configs come from scripts/local/<name>.yaml.in (ports and paths filled in here).
for name in alerter rediscache graphite; do
  tmpl=scripts/local/$name.yaml.in
  [[ -f $tmpl ]] || continue
  sed -e "s|@DATA@|$DATA|g" -e "s|@FRONT@|$P_FRONT|g" -e "s|@BACK@|$P_BACK|g" \
    -e "s|@REDIS@|$P_REDIS|g" -e "s|@CARBON@|$P_CLINE|g" -e "s|@WEB@|$P_WEB|g" \
    -e "s|@ROOT@|$ROOT|g" "$tmpl" > "$CONF/$name.yaml"
done

# The demo log: requests, now and then a slow one, and an error burst a minute, so rules visibly fire.
(
  i=0
  while sleep 1; do
    i=$((i + 1))
    ts=$(date -u +%FT%TZ)
    echo "$ts level=info method=GET path=/api/items status=200 latency_ms=$((RANDOM % 80 + 5))"
    ((i % 7 == 0)) && echo "$ts level=warn method=POST path=/api/orders status=200 latency_ms=$((RANDOM % 900 + 400))"
    ((i % 60 == 10)) && for _ in 1 2 3; do echo "$ts level=error msg=\"payment backend timeout\" status=504"; done
  done >> "$DATA/demo/app.log"
) &
started demo-log-writer $!

# --- hostwatch ---------------------------------------------------------------------------------
for name in broker collector logwatch alerter rediscache graphite; do
  exe=$BIN/$name/hostwatch-$name
  [[ -x $exe && -f $CONF/$name.yaml ]] || continue
  "$exe" --config "$CONF/$name.yaml" 2>> "$LOGS/$name.log" &
  started "hostwatch-$name" $!
  [[ $name == broker ]] && waitport "$P_FRONT" hostwatch-broker
done

cat << EOF

hostwatch is running (data in $DATA, logs in $LOGS). Where to look:
  live fleet table:  $BIN/cli/hostwatch top --tap tcp://127.0.0.1:$P_TAP
  live samples:      $BIN/cli/hostwatch tail --tap tcp://127.0.0.1:$P_TAP --metric 'cpu.*'
  broker and lag:    $BIN/cli/hostwatch status --backend tcp://127.0.0.1:$P_BACK
  graphite-web:      http://127.0.0.1:$P_WEB/render?target=hostwatch.*.cpu.busy.total&from=-15min
  fleet from redis:  $BIN/cli/hostwatch hosts --redis redis://127.0.0.1:$P_REDIS
  redis:             redis-cli -p $P_REDIS hgetall 'hw:latest:{$(hostname)}'
  alert mail:        $DATA/outbox/sent/ (.eml files; set alerter.smtp.url to send real mail)
Ctrl-C stops everything.
EOF
# Exit (and stop the rest) as soon as any process exits.
set +e
wait -n "${pids[@]}"
status=$?
echo "hostwatch: a process exited with status $status; stopping the others"
exit "$status"
