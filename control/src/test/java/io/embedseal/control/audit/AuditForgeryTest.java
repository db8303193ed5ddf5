package io.embedseal.control.audit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.control.TrustedSigners;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit-trail forgeries of someone who can write {@code keyring.audit} and knows the format (it is public), each
 * run twice: against the hash chains alone (what {@code audit verify} checked before checkpoints were signed: the
 * control, which accepts the forgery), then with the trusted checkpoint keys, which refuse it.
 */
class AuditForgeryTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    AuditSigner pipelineKey;
    AuditSigner intruderKey;
    TrustedSigners trusted;
    List<byte[]> genuine;

    @BeforeEach
    void aGenuineTrail() {
        pipelineKey = signer(dir.resolve("kms"), "audit-pipeline");
        intruderKey = signer(dir.resolve("intruder"), "audit-pipeline"); // same name, another KMS: not trusted
        trusted = TrustedSigners.of(pipelineKey.publicKey());
        AuditChain chain = new AuditChain("pipeline-1");
        genuine = new ArrayList<>();
        genuine.add(chain.checkpoint(pipelineKey, false));
        genuine.add(chain.append(action("REVOKED", "acme", "alice")));
        genuine.add(chain.append(action("KMS_CALL", "acme", "pipeline")));
        genuine.add(chain.checkpoint(pipelineKey, false));
        genuine.add(chain.append(action("DESTROYED", "globex", "bob")));
        genuine.add(chain.append(shredReceipt("globex")));
        genuine.add(chain.checkpoint(pipelineKey, true));
    }

    private static AuditSigner signer(Path kmsDir, String name) {
        LocalKms kms = new LocalKms(kmsDir);
        kms.signingKeys().orElseThrow().createSigningKey(name);
        return new AuditSigner(kms.signingKeys().orElseThrow(), name);
    }

    private static Map<String, Object> action(String action, String tenant, String actor) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", "OPERATOR_ACTION");
        f.put("time", "2026-12-04T10:00:00Z");
        f.put("action", action);
        f.put("tenant", tenant);
        f.put("actor", actor);
        return f;
    }

    private static Map<String, Object> shredReceipt(String tenant) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", "SHRED_RECEIPT");
        f.put("time", "2026-12-04T10:00:01Z");
        f.put("tenant", tenant);
        f.put("deleted", Map.of("documents", 1000));
        return f;
    }

    private static AuditVerifier.Result verify(AuditVerifier v, List<byte[]> entries) {
        for (int i = 0; i < entries.size(); i++) {
            v.accept(i, entries.get(i));
        }
        return v.result();
    }

    /** Hash chains only (the control) accept it; with signed checkpoints it is refused or flagged. */
    private void assertCaught(List<byte[]> forged, Duration maxOpen) {
        AuditVerifier.Result control = verify(new AuditVerifier(), forged);
        assertThat(control.intact()).as("the forgery passes a hash-chain check").isTrue();
        AuditVerifier.Result signed = verify(new AuditVerifier(trusted), forged);
        List<String> problems = signed.problems(Instant.now(), maxOpen);
        assertThat(signed.intact() && problems.isEmpty())
                .as("breaks %s, problems %s", signed.breaks(), problems)
                .isFalse();
    }

    @Test
    void theGenuineTrail_verifies() {
        AuditVerifier.Result r = verify(new AuditVerifier(trusted), genuine);
        assertThat(r.breaks()).isEmpty();
        assertThat(r.problems(Instant.now(), Duration.ZERO)).isEmpty();
        assertThat(r.chains().get("pipeline-1").closed()).isTrue();
    }

    @Test
    void droppingTheTail_isCaught() {
        // Cut after the second checkpoint: what is left links up and ends at a genuine signed checkpoint.
        List<byte[]> cut = genuine.subList(0, 4);
        assertCaught(cut, Duration.ZERO); // the producer closed long ago: its chain must end final
        AuditVerifier expecting = new AuditVerifier(trusted).expect("pipeline-1", genuine.size());
        assertThat(verify(expecting, cut).problems(Instant.now(), Duration.ofDays(1)))
                .anyMatch(p -> p.contains("where 7 were expected"));
    }

    @Test
    void appendingAnEntryComputedFromPublicData_isCaught() throws Exception {
        List<byte[]> forged = new ArrayList<>(genuine);
        TreeMap<String, Object> last = parse(genuine.get(genuine.size() - 1));
        TreeMap<String, Object> extra = new TreeMap<>(action("RESTORED", "globex", "bob"));
        extra.put("producer", "pipeline-1");
        extra.put("seq", ((Number) last.get("seq")).longValue() + 1);
        extra.put("prevHash", last.get("hash"));
        extra.put("hash", AuditChain.hash(extra));
        forged.add(JSON.writeValueAsBytes(extra));
        assertCaught(forged, Duration.ofDays(1));
        assertThat(verify(new AuditVerifier(trusted), forged).breaks())
                .anyMatch(b -> b.problem().contains("after the producer's final checkpoint"));
    }

    @Test
    void rewritingWhoRevoked_andRecomputingEveryHash_isCaught() throws Exception {
        List<byte[]> forged = new ArrayList<>();
        String prev = AuditChain.GENESIS;
        for (byte[] e : genuine) {
            TreeMap<String, Object> entry = parse(e);
            if ("alice".equals(entry.get("actor"))) {
                entry.put("actor", "mallory");
            }
            entry.put("prevHash", prev);
            entry.put("hash", AuditChain.hash(entry));
            prev = (String) entry.get("hash");
            forged.add(JSON.writeValueAsBytes(entry));
        }
        assertCaught(forged, Duration.ofDays(1));
        assertThat(verify(new AuditVerifier(trusted), forged).breaks())
                .anyMatch(b -> b.problem().contains("signature does not verify"));
    }

    @Test
    void aWholeNewChainWithAFakeShredReceipt_isCaught() {
        // Signed with a key of the intruder's own (same key name, another KMS), and once without any checkpoint.
        AuditChain fake = new AuditChain("sink-lucene-0-fake");
        List<byte[]> signedByIntruder = new ArrayList<>(genuine);
        signedByIntruder.add(fake.checkpoint(intruderKey, false));
        signedByIntruder.add(fake.append(shredReceipt("acme")));
        signedByIntruder.add(fake.checkpoint(intruderKey, true));
        assertCaught(signedByIntruder, Duration.ofDays(1));
        assertThat(verify(new AuditVerifier(trusted), signedByIntruder).breaks())
                .anyMatch(b -> b.problem().contains("not trusted"));

        AuditChain unsigned = new AuditChain("sink-lucene-0-unsigned");
        List<byte[]> withoutCheckpoint = new ArrayList<>(genuine);
        withoutCheckpoint.add(unsigned.append(shredReceipt("acme")));
        assertCaught(withoutCheckpoint, Duration.ofDays(1));
    }

    @Test
    void oneRolesKey_cannotVouchForAnotherRolesChain() {
        // A compromised sink writes a closed operator chain with its own (trusted) audit-sink key.
        AuditSigner sinkKey = signer(dir.resolve("kms"), "audit-sink");
        TrustedSigners both = TrustedSigners.of(pipelineKey.publicKey(), sinkKey.publicKey());
        AuditChain fake = new AuditChain("cli-alice-1");
        List<byte[]> forged = new ArrayList<>(genuine);
        forged.add(fake.checkpoint(sinkKey, false));
        forged.add(fake.append(action("REVOKED", "acme", "alice")));
        forged.add(fake.checkpoint(sinkKey, true));
        assertThat(verify(new AuditVerifier(both), forged).intact())
                .as("without roles (the control)")
                .isTrue();
        AuditVerifier byRole =
                new AuditVerifier(both, Map.of(pipelineKey.keyId(), "pipeline", sinkKey.keyId(), "sink"));
        assertThat(verify(byRole, forged).breaks())
                .anyMatch(b -> b.producer().equals("cli-alice-1") && b.problem().contains("sink key"));
        assertThat(verify(new AuditVerifier(both, Map.of(pipelineKey.keyId(), "pipeline")), genuine)
                        .intact())
                .isTrue();
    }

    private static TreeMap<String, Object> parse(byte[] entry) throws Exception {
        return JSON.readValue(
                new String(entry, StandardCharsets.UTF_8), new TypeReference<TreeMap<String, Object>>() {});
    }
}
