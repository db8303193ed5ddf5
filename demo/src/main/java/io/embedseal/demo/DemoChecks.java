package io.embedseal.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.control.TrustedSigners;
import io.embedseal.control.audit.AuditVerifier;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.envelope.Unsealed;
import io.embedseal.topology.DeadLetters;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/** The demo's checks of what the pipeline wrote, each a skeptic's reading of one topic. */
final class DemoChecks {

    private DemoChecks() {}

    /**
     * The sealed topic, read by an independent reader (its own KMS client and empty caches, as a sink in another
     * process would be): each record opened and compared with what was produced.
     */
    record Sealed(
            SortedMap<String, Integer> perTenant,
            SortedMap<String, String> kekPerTenant,
            int mismatches,
            int duplicates,
            int missing,
            SortedMap<String, Integer> openFailures) {

        static Sealed check(
                List<ConsumerRecord<byte[], byte[]>> sealed, Map<String, EmbeddingEvent> expected, Sealer reader) {
            SortedMap<String, Integer> perTenant = new TreeMap<>();
            SortedMap<String, String> kekPerTenant = new TreeMap<>();
            SortedMap<String, Integer> openFailures = new TreeMap<>();
            Set<String> seen = new HashSet<>();
            int mismatches = 0;
            int duplicates = 0;
            for (ConsumerRecord<byte[], byte[]> r : sealed) {
                SealedRecordKey key;
                try {
                    key = SealedRecordKey.parse(r.key());
                } catch (IllegalArgumentException e) {
                    mismatches++;
                    continue;
                }
                if (!seen.add(key.toString())) {
                    duplicates++;
                    continue;
                }
                try {
                    Unsealed opened = reader.unseal(r.value(), key.tenantId(), key.embeddingId());
                    if (!java.util.Objects.equals(
                            EmbeddingEventCodec.fromCanonicalAvro(opened.plaintext()), expected.get(key.toString()))) {
                        mismatches++;
                    }
                    perTenant.merge(key.tenantId(), 1, Integer::sum);
                    kekPerTenant.putIfAbsent(
                            key.tenantId(), opened.header().kek().toString());
                } catch (EnvelopeException e) {
                    mismatches++;
                    openFailures.merge(e.reason().name(), 1, Integer::sum);
                }
            }
            int missing = (int)
                    expected.keySet().stream().filter(k -> !seen.contains(k)).count();
            return new Sealed(perTenant, kekPerTenant, mismatches, duplicates, missing, openFailures);
        }

        void failures(int read, int expected, List<String> failures) {
            if (read != expected) {
                failures.add("sealed " + read + " records, expected " + expected);
            }
            if (mismatches > 0) {
                failures.add(mismatches + " sealed records did not unseal to what was produced"
                        + (openFailures.isEmpty() ? "" : " " + openFailures));
            }
            if (duplicates > 0) {
                failures.add(duplicates + " duplicate sealed records");
            }
            if (missing > 0) {
                failures.add(missing + " valid records never reached the sealed topic");
            }
        }
    }

    /** The dead-letter topic: each invalid record once, with the reason it must get. */
    record DeadLettered(SortedMap<String, Integer> byReason, int reasonMismatches) {

        static DeadLettered check(List<ConsumerRecord<byte[], byte[]>> dead, Map<String, String> expectedReasons) {
            SortedMap<String, Integer> byReason = new TreeMap<>();
            int reasonMismatches = 0;
            Set<String> keys = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> r : dead) {
                Header h = r.headers().lastHeader(DeadLetters.REASON_HEADER);
                String reason = h == null ? "(no reason header)" : new String(h.value(), StandardCharsets.UTF_8);
                byReason.merge(reason, 1, Integer::sum);
                String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
                if (!reason.equals(expectedReasons.get(key)) || !keys.add(key)) {
                    reasonMismatches++;
                }
            }
            return new DeadLettered(byReason, reasonMismatches);
        }

        void failures(int read, int expected, List<String> failures) {
            if (read != expected) {
                failures.add("dead-lettered " + read + " records, expected " + expected);
            }
            if (reasonMismatches > 0) {
                failures.add(reasonMismatches + " dead letters with an unexpected reason or key");
            }
        }
    }

    /** The audit topic: an intact hash chain, and the keys the operator commands created in the KMS. */
    record Audit(AuditVerifier.Result result, long entries, long keysCreated, List<String> problems) {

        /** With the checkpoint signers the readers trust: every chain must end at a final signed checkpoint. */
        static Audit check(
                List<ConsumerRecord<byte[], byte[]>> audit, TrustedSigners trusted, Map<String, String> roles) {
            AuditVerifier verifier = new AuditVerifier(trusted, roles);
            long keysCreated = 0;
            ObjectMapper json = new ObjectMapper();
            for (ConsumerRecord<byte[], byte[]> r : audit) {
                verifier.accept(r.offset(), r.value());
                JsonNode entry;
                try {
                    entry = json.readTree(r.value());
                } catch (IOException e) {
                    continue; // the verifier reports an entry that is not JSON
                }
                if ("KMS_CALL".equals(entry.path("kind").asText())
                        && "CREATE".equals(entry.path("operation").asText())
                        && "OK".equals(entry.path("outcome").asText())) {
                    keysCreated++;
                }
            }
            AuditVerifier.Result result = verifier.result();
            long entries = result.entriesByProducer().values().stream()
                    .mapToLong(Long::longValue)
                    .sum();
            return new Audit(
                    result, entries, keysCreated, result.problems(java.time.Instant.now(), java.time.Duration.ZERO));
        }

        /** Chains that end at a final signed checkpoint. */
        long signedChains() {
            return result.chains().values().stream()
                    .filter(AuditVerifier.Chain::closed)
                    .count();
        }

        void failures(int tenants, List<String> failures) {
            if (!result.intact()) {
                failures.add("the audit chain is broken: " + result.breaks().get(0));
            }
            problems.forEach(p -> failures.add("the audit trail is not proven complete and genuine: " + p));
            if (entries < tenants) {
                failures.add("the audit trail holds " + entries + " entries, fewer than one per tenant registration");
            }
        }
    }
}
