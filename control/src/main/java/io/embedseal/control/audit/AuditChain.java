package io.embedseal.control.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The hash chain of one audit producer. Each entry is a JSON object with sorted keys holding the entry's fields
 * plus {@code producer}, {@code seq} (1, 2, ...), {@code prevHash} (the previous entry's hash, or 64 zeros for
 * the first) and {@code hash} = SHA-256 of the entry's canonical JSON without {@code hash}, in lower-case hex.
 * Removing, reordering or altering an entry breaks the chain at that point. Thread-safe.
 */
public final class AuditChain {

    /** The prevHash of a producer's first entry. */
    public static final String GENESIS = "0".repeat(64);

    /** The {@code kind} of a signed checkpoint entry. */
    public static final String CHECKPOINT = "CHECKPOINT";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String producer;
    private long seq;
    private String lastHash = GENESIS;

    public AuditChain(String producer) {
        this.producer = Objects.requireNonNull(producer, "producer");
    }

    public String producer() {
        return producer;
    }

    /** Chains one entry and returns its bytes (UTF-8 JSON). */
    public synchronized byte[] append(Map<String, ?> fields) {
        TreeMap<String, Object> entry = new TreeMap<>(fields);
        entry.put("producer", producer);
        entry.put("seq", ++seq);
        entry.put("prevHash", lastHash);
        String hash = hash(entry);
        entry.put("hash", hash);
        lastHash = hash;
        try {
            return JSON.writeValueAsBytes(entry);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an audit entry", e);
        }
    }

    /**
     * Appends a signed checkpoint: a chained entry ({@code kind=CHECKPOINT}) whose signature, made in the KMS,
     * covers its own content and so, through {@code prevHash}, every entry of this producer before it. A verifier
     * that trusts the signer knows the chain up to here is genuine and complete; {@code final} says the producer
     * closed after it, so nothing may follow.
     */
    public synchronized byte[] checkpoint(AuditSigner signer, boolean isFinal) {
        Signed s = sign(prepareCheckpoint(signer, isFinal), signer);
        byte[] out = commit(s);
        if (out == null) {
            throw new IllegalStateException("unreachable: the chain is locked");
        }
        return out;
    }

    /** A checkpoint entry for the chain as it is now, not yet signed. */
    public synchronized Map<String, Object> prepareCheckpoint(AuditSigner signer, boolean isFinal) {
        TreeMap<String, Object> entry = new TreeMap<>();
        entry.put("kind", CHECKPOINT);
        entry.put("time", java.time.Instant.now().toString());
        entry.put("final", isFinal);
        entry.put("signer", signer.keyId());
        entry.put("producer", producer);
        entry.put("seq", seq + 1);
        entry.put("prevHash", lastHash);
        return entry;
    }

    /** A prepared checkpoint and its signature. */
    public record Signed(Map<String, Object> entry, String signature) {}

    /**
     * Signs a prepared checkpoint: a KMS call, made without holding the chain, so that appends are never held up
     * by a slow or unreachable KMS.
     */
    public static Signed sign(Map<String, Object> prepared, AuditSigner signer) {
        return new Signed(prepared, java.util.Base64.getEncoder().encodeToString(signer.sign(canonical(prepared))));
    }

    /**
     * Appends a signed checkpoint if the chain has not moved since it was prepared; null if it has (an entry was
     * appended meanwhile: the caller prepares a new one later).
     */
    public synchronized byte @Nullable [] commit(Signed signed) {
        TreeMap<String, Object> entry = new TreeMap<>(signed.entry());
        if (!(entry.get("seq") instanceof Number n)
                || n.longValue() != seq + 1
                || !lastHash.equals(entry.get("prevHash"))) {
            return null;
        }
        entry.put("signature", signed.signature());
        seq++;
        String hash = hash(entry);
        entry.put("hash", hash);
        lastHash = hash;
        try {
            return JSON.writeValueAsBytes(entry);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an audit checkpoint", e);
        }
    }

    /** The highest sequence number appended so far. */
    public synchronized long seq() {
        return seq;
    }

    /** The canonical JSON (sorted keys) of an entry without {@code hash} and {@code signature}: what is signed. */
    static byte[] canonical(Map<String, Object> entry) {
        TreeMap<String, Object> signed = new TreeMap<>(entry);
        signed.remove("hash");
        signed.remove("signature");
        try {
            return JSON.writeValueAsBytes(signed);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 over the canonical JSON (sorted keys) of {@code entry} without its {@code hash} field. */
    static String hash(Map<String, Object> entry) {
        TreeMap<String, Object> withoutHash = new TreeMap<>(entry);
        withoutHash.remove("hash");
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest(JSON.writeValueAsBytes(withoutHash)));
        } catch (NoSuchAlgorithmException | JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads an entry back; null if the bytes are not a JSON object. */
    static @Nullable SortedMap<String, Object> parse(byte[] value) {
        try {
            return JSON.readValue(
                    new String(value, StandardCharsets.UTF_8), new TypeReference<TreeMap<String, Object>>() {});
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
