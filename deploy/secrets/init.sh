#!/bin/sh
# One-shot, before every other service of the docker-compose stack: makes the stack's passwords and tokens, random,
# once (kept in the secrets-master volume, which no other service mounts), then writes each container the files it
# needs, and only those, into a volume of its own: mode 0400, owned by the user that container runs as. Nothing
# secret is in the repository, in an environment variable or in `docker inspect`. Safe to run again: the values stay,
# the files are rewritten. The Vault tokens are not made here but by vault-init, into the same per-container volumes.
#
#   volume (mounted at)                 read by (uid)           files
#   kafka-secrets (/etc/kafka/secrets)  kafka (1000)            kafka_server_jaas.conf, admin.properties
#   kafka-admin-secrets (/secrets)      kafka-init (1000)       admin.properties
#   registry-secrets (/secrets)         schema-registry (1000)  kafka-client.jaas
#   pipeline-secrets (/secrets)         embedseal (0)           kafka-client.jaas, status-token (+ pipeline-token)
#   connect-secrets (/secrets)          connect (0)             kafka-client.jaas, rest-users.properties,
#                                                               config/postgres.properties (+ sink-token)
#   connect-client-secrets (/secrets)   connect-init (100)      netrc
#   operator-secrets (/secrets)         cli (0)                 kafka-client.jaas (+ operator-token)
#   producer-secrets (/secrets)         producer (0)            kafka-client.jaas
#   postgres-secrets (/secrets)         postgres (999)          postgres-password
#   prometheus-secrets (/secrets)       prometheus (65534)      status-token
#   grafana-secrets (/secrets)          grafana (472)           admin-password
set -eu
: "${MASTER:=/master}"
: "${OUT:=/out}"
umask 077

# A value made once: 32 random bytes as hex.
value() {
  f="$MASTER/$1"
  if [ ! -s "$f" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f.tmp" && mv "$f.tmp" "$f"
    chmod 0400 "$f"
  fi
  cat "$f"
}

# put <volume> <file> <uid> : stdin into OUT/<volume>/<file>, 0400, owned by uid.
put() {
  f="$OUT/$1/$2"
  mkdir -p "$(dirname "$f")"
  rm -f "$f"
  cat > "$f"
  chmod 0400 "$f"
  chown "$3:$3" "$f"
  # A container reads its files through its volume's directories.
  chown "$3:$3" "$(dirname "$f")"
  chmod 0500 "$(dirname "$f")"
  [ "$(dirname "$f")" = "$OUT/$1" ] || { chown "$3:$3" "$OUT/$1"; chmod 0500 "$OUT/$1"; }
  echo "wrote $1/$2 (0400, uid $3)"
}

# A Kafka client's login, as a JAAS file: the KafkaClient section every Kafka client of the JVM uses when its own
# configuration has no sasl.jaas.config (-Djava.security.auth.login.config=<file>).
client_jaas() {
  printf 'KafkaClient {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  username="%s" password="%s";\n};\n' \
    "$1" "$(value "kafka-$1")"
}

mkdir -p "$MASTER"
chmod 0700 "$MASTER"

# Kafka: SASL/PLAIN, one principal per part (the ACLs are deploy/kafka/create-acls.sh); the broker knows them all.
users=""
for u in admin pipeline sink operator producer registry; do
  users="$users user_$u=\"$(value "kafka-$u")\""
done
printf 'KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  username="admin" password="%s"%s;\n};\n' \
  "$(value kafka-admin)" "$users" | put kafka-secrets kafka_server_jaas.conf 1000
admin_properties() {
  printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' \
    "$(value kafka-admin)"
}
admin_properties | put kafka-secrets admin.properties 1000
admin_properties | put kafka-admin-secrets admin.properties 1000
client_jaas registry | put registry-secrets kafka-client.jaas 1000
client_jaas pipeline | put pipeline-secrets kafka-client.jaas 0
client_jaas operator | put operator-secrets kafka-client.jaas 0
client_jaas producer | put producer-secrets kafka-client.jaas 0

# Kafka Connect: the worker's Kafka login, and its REST API's users (BasicAuthSecurityRestExtension).
{ client_jaas sink
  printf 'KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file="/secrets/rest-users.properties";\n};\n'
} | put connect-secrets kafka-client.jaas 0
printf 'admin=%s\n' "$(value connect-rest-admin)" | put connect-secrets rest-users.properties 0
printf 'machine connect login admin password %s\n' "$(value connect-rest-admin)" | put connect-client-secrets netrc 100

# PostgreSQL: the database's password, and the connector's copy (read by the worker's FileConfigProvider, which may
# read /secrets/config only).
printf '%s' "$(value postgres)" | put postgres-secrets postgres-password 999
printf 'postgres.password=%s\n' "$(value postgres)" | put connect-secrets config/postgres.properties 0

# The pipeline's status page and /metrics (http.auth.token-file), and Prometheus's copy to scrape with.
value status-token | put pipeline-secrets status-token 0
value status-token | put prometheus-secrets status-token 65534

# Grafana's admin (no anonymous access).
value grafana-admin | put grafana-secrets admin-password 472

echo "secrets ready"
