#!/bin/bash
# One-shot topic creation for the docker-compose stack: the pipeline's topics with their policies.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
PARTITIONS="${PARTITIONS:-6}"
T="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

create() {
  local topic=$1 partitions=$2; shift 2
  "$T" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$topic" --partitions "$partitions" \
       --replication-factor 1 "$@"
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
"$T" --bootstrap-server "$BOOTSTRAP" --list
