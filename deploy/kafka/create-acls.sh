#!/bin/bash
# One-shot, after create-topics.sh: the stack's Kafka ACLs. The broker authenticates every client (SASL/PLAIN) and
# refuses what no ACL allows (StandardAuthorizer, allow.everyone.if.no.acl.found=false); each part logs in as its own
# principal (deploy/secrets/init.sh). These are exactly the grants of docs/operations.md, "Topic ACLs" (TopicAclTest
# runs those on a secured broker; DockerComposeTest checks this script grants the same), and the schema registry's.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
: "${COMMAND_CONFIG:?the admin login (admin.properties)}"
A="${KAFKA_ACLS:-/opt/kafka/bin/kafka-acls.sh}"

acl() {
  "$A" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" "$@" > /dev/null
}

# producers of raw embeddings
acl --add --allow-principal User:producer --operation Write --topic embeddings.raw
# the operator (the CLI)
acl --add --allow-principal User:operator --operation Write --operation Read --topic keyring.events --topic keyring.audit
acl --add --allow-principal User:operator --operation Read --topic embeddings.sealed --topic embeddings.dlq
acl --add --allow-principal User:operator --operation Describe --topic embeddings.raw --group embedseal
# the pipeline (application.id=embedseal)
acl --add --allow-principal User:pipeline --operation Read --topic embeddings.raw --topic keyring.events --group embedseal
acl --add --allow-principal User:pipeline --operation Write --topic embeddings.sealed --topic embeddings.dlq --topic keyring.audit
acl --add --allow-principal User:pipeline --operation Write --operation Describe --resource-pattern-type prefixed --transactional-id embedseal-
acl --add --allow-principal User:pipeline --operation All --resource-pattern-type prefixed --topic embedseal-
# the sink worker (Kafka Connect) and its connectors
acl --add --allow-principal User:sink --operation Read --topic embeddings.sealed --topic keyring.events
acl --add --allow-principal User:sink --operation Write --topic keyring.audit --topic embeddings.sealed.lucene-dlq --topic embeddings.sealed.postgres-dlq
acl --add --allow-principal User:sink --operation Read --resource-pattern-type prefixed --group connect-embedseal-
acl --add --allow-principal User:sink --operation Read --group embedseal-connect
acl --add --allow-principal User:sink --operation Create --operation Read --operation Write --operation DescribeConfigs --topic connect-configs --topic connect-offsets --topic connect-status

# Not in docs/operations.md's section (not embedseal's own): the schema registry stores schemas in _schemas
# (created by create-topics.sh) and elects its leader in its group.
acl --add --allow-principal User:registry --operation Read --operation Write --operation DescribeConfigs --topic _schemas
acl --add --allow-principal User:registry --operation Read --group schema-registry

"$A" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --list
