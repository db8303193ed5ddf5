package io.embedseal.serdes.validation;

import io.embedseal.keyring.TenantIds;
import io.embedseal.schemas.EmbeddingEvent;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Checks a decoded embedding before it is sealed, in the pipeline and in the producer-side serializer alike.
 * A violation names the rule and a detail that holds positions and sizes, never vector values or metadata.
 */
public final class EmbeddingValidator {

    /** Default cap on vector dimensions; well above today's largest embedding models. */
    public static final int DEFAULT_MAX_DIMENSIONS = ValidationLimits.DEFAULT_MAX_DIMENSIONS;

    private final ValidationLimits limits;

    public EmbeddingValidator(ValidationLimits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    public EmbeddingValidator(int maxDimensions) {
        this(ValidationLimits.defaults().withMaxDimensions(maxDimensions));
    }

    public static EmbeddingValidator defaults() {
        return new EmbeddingValidator(ValidationLimits.defaults());
    }

    public ValidationLimits limits() {
        return limits;
    }

    /** The rules an embedding can break. */
    public enum Rule {
        MISSING_TENANT,
        INVALID_TENANT_ID,
        MISSING_EMBEDDING_ID,
        INVALID_EMBEDDING_ID,
        EMPTY_VECTOR,
        TOO_MANY_DIMENSIONS,
        DIMENSION_MISMATCH,
        NON_FINITE_VALUE,
        METADATA_TOO_LARGE
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
        if (!TenantIds.isValid(tenant) || tenant.length() > limits.tenantIdMaxLength()
                || limits.tenantIdPattern() != null && !limits.tenantIdPattern().matcher(tenant).matches()) {
            return new Violation(Rule.INVALID_TENANT_ID, TenantIds.describeRule()
                    + (limits.tenantIdMaxLength() < TenantIds.MAX_LENGTH ? ", at most " + limits.tenantIdMaxLength() + " long" : "")
                    + (limits.tenantIdPattern() != null ? ", matching " + limits.tenantIdPattern() : ""));
        }
        String id = event.getEmbeddingId();
        if (id == null || id.isEmpty()) {
            return new Violation(Rule.MISSING_EMBEDDING_ID, "embeddingId is empty");
        }
        int idBytes = id.getBytes(StandardCharsets.UTF_8).length;
        if (idBytes > limits.embeddingIdMaxBytes()) {
            return new Violation(Rule.INVALID_EMBEDDING_ID, "embeddingId is " + idBytes + " bytes, more than " + limits.embeddingIdMaxBytes());
        }
        List<Float> vector = event.getVector();
        if (vector.isEmpty()) {
            return new Violation(Rule.EMPTY_VECTOR, "vector has no values");
        }
        if (vector.size() > limits.maxDimensions()) {
            return new Violation(Rule.TOO_MANY_DIMENSIONS, "vector has " + vector.size() + " dimensions, more than the maximum " + limits.maxDimensions());
        }
        Integer forTenant = limits.dimensionsByTenant().get(tenant);
        if (forTenant != null && vector.size() != forTenant) {
            return new Violation(Rule.DIMENSION_MISMATCH, "vector has " + vector.size() + " dimensions; tenant " + tenant + " uses " + forTenant);
        }
        Integer forModel = limits.dimensionsByModel().get(event.getModel());
        if (forModel != null && vector.size() != forModel) {
            return new Violation(Rule.DIMENSION_MISMATCH, "vector has " + vector.size() + " dimensions; model " + shortText(event.getModel())
                    + " produces " + forModel);
        }
        for (int i = 0; i < vector.size(); i++) {
            float v = vector.get(i);
            if (!Float.isFinite(v)) {
                return new Violation(Rule.NON_FINITE_VALUE, "vector[" + i + "] is not a finite number");
            }
        }
        Map<String, String> metadata = event.getMetadata();
        if (metadata != null) {
            if (metadata.size() > limits.metadataMaxEntries()) {
                return new Violation(Rule.METADATA_TOO_LARGE, "metadata has " + metadata.size() + " entries, more than " + limits.metadataMaxEntries());
            }
            long bytes = 0;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                bytes += utf8Length(e.getKey()) + utf8Length(e.getValue());
            }
            if (bytes > limits.metadataMaxBytes()) {
                return new Violation(Rule.METADATA_TOO_LARGE, "metadata is " + bytes + " bytes, more than " + limits.metadataMaxBytes());
            }
        }
        return null;
    }

    private static long utf8Length(String s) {
        return s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static String shortText(String s) {
        return s == null ? "" : s.length() > 64 ? s.substring(0, 64) + "..." : s;
    }
}
