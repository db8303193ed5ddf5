package io.embedseal.serdes.validation;

import io.embedseal.keyring.TenantIds;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.envelope.EnvelopeHeader;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Checks a decoded embedding before it is sealed, in the pipeline and in the producer-side serializer alike.
 * A violation names the rule and a detail that holds positions and sizes, never vector values.
 */
public final class EmbeddingValidator {

    /** Default cap on vector dimensions; well above today's largest embedding models. */
    public static final int DEFAULT_MAX_DIMENSIONS = 16_384;

    private final int maxDimensions;

    public EmbeddingValidator(int maxDimensions) {
        if (maxDimensions < 1) {
            throw new IllegalArgumentException("maximum vector dimensions must be at least 1, got " + maxDimensions);
        }
        this.maxDimensions = maxDimensions;
    }

    public static EmbeddingValidator defaults() {
        return new EmbeddingValidator(DEFAULT_MAX_DIMENSIONS);
    }

    /** The rules an embedding can break. */
    public enum Rule {
        MISSING_TENANT,
        INVALID_TENANT_ID,
        MISSING_EMBEDDING_ID,
        INVALID_EMBEDDING_ID,
        EMPTY_VECTOR,
        TOO_MANY_DIMENSIONS,
        NON_FINITE_VALUE
    }

    /** Why an embedding was refused. */
    public record Violation(Rule rule, String detail) {
    }

    /** The first rule the event breaks, or null if it may be sealed. */
    public Violation check(EmbeddingEvent event) {
        String tenant = event.getTenantId();
        if (tenant == null || tenant.isEmpty()) {
            return new Violation(Rule.MISSING_TENANT, "tenantId is empty");
        }
        if (!TenantIds.isValid(tenant)) {
            return new Violation(Rule.INVALID_TENANT_ID, TenantIds.describeRule());
        }
        String id = event.getEmbeddingId();
        if (id == null || id.isEmpty()) {
            return new Violation(Rule.MISSING_EMBEDDING_ID, "embeddingId is empty");
        }
        int idBytes = id.getBytes(StandardCharsets.UTF_8).length;
        if (idBytes > EnvelopeHeader.MAX_EMBEDDING_ID_BYTES) {
            return new Violation(Rule.INVALID_EMBEDDING_ID, "embeddingId is " + idBytes
                    + " bytes, more than " + EnvelopeHeader.MAX_EMBEDDING_ID_BYTES);
        }
        List<Float> vector = event.getVector();
        if (vector.isEmpty()) {
            return new Violation(Rule.EMPTY_VECTOR, "vector has no values");
        }
        if (vector.size() > maxDimensions) {
            return new Violation(Rule.TOO_MANY_DIMENSIONS, "vector has " + vector.size()
                    + " dimensions, more than the maximum " + maxDimensions);
        }
        for (int i = 0; i < vector.size(); i++) {
            float v = vector.get(i);
            if (!Float.isFinite(v)) {
                return new Violation(Rule.NON_FINITE_VALUE, "vector[" + i + "] is not a finite number");
            }
        }
        return null;
    }
}
