#!/bin/bash
# One-shot topic creation for the docker-compose stack: the pipeline's topics with their policies. As the admin
# principal when COMMAND_CONFIG names its login (the stack's broker authenticates everyone); create-acls.sh follows.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
PARTITIONS="${PARTITIONS:-6}"
T="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"
LOGIN=()
if [ -n "${COMMAND_CONFIG:-}" ]; then LOGIN=(--command-config "$COMMAND_CONFIG"); fi

create() {
  local topic=$1 partitions=$2; shift 2
  "$T" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --create --if-not-exists --topic "$topic" \
       --partitions "$partitions" --replication-factor 1 "$@"
}

create embeddings.raw "$PARTITIONS"
create embeddings.sealed "$PARTITIONS"
create embeddings.dlq 1 --config retention.ms=1209600000                 # 14 days
# Kept forever, not compacted: a writer could otherwise make compaction drop a tenant's registration or its
# revocation from the topic (docs/key-lifecycle.md, "Why keyring.events is not compacted").
create keyring.events 1 --config cleanup.policy=delete --config retention.ms=-1
create keyring.audit 1 --config retention.ms=-1                           # kept forever
create embeddings.sealed.lucene-dlq 1 --config retention.ms=1209600000
create embeddings.sealed.postgres-dlq 1 --config retention.ms=1209600000
create _schemas 1 --config cleanup.policy=compact                        # the schema registry's store
"$T" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --list
