package io.embedseal.serdes.validation;

import io.embedseal.keyring.TenantIds;
import io.embedseal.schemas.EmbeddingEvent;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

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
    public record Violation(Rule rule, String detail) {}

    /** The first rule the event breaks, or null if it may be sealed. */
    public @Nullable Violation check(EmbeddingEvent event) {
        return check(EmbeddingFacts.of(event));
    }

    /** The first rule the embedding breaks, or null if it may be sealed; the rules apply in this order. */
    public @Nullable Violation check(EmbeddingFacts e) {
        String tenant = e.tenantId();
        if (tenant == null || tenant.isEmpty()) {
            return new Violation(Rule.MISSING_TENANT, "tenantId is empty");
        }
        if (!TenantIds.isValid(tenant)
                || tenant.length() > limits.tenantIdMaxLength()
                || (limits.tenantIdPattern() != null
                        && !limits.tenantIdPattern().matcher(tenant).matches())) {
            return new Violation(
                    Rule.INVALID_TENANT_ID,
                    TenantIds.describeRule()
                            + (limits.tenantIdMaxLength() < TenantIds.MAX_LENGTH
                                    ? ", at most " + limits.tenantIdMaxLength() + " long"
                                    : "")
                            + (limits.tenantIdPattern() != null ? ", matching " + limits.tenantIdPattern() : ""));
        }
        String id = e.embeddingId();
        if (id == null || id.isEmpty()) {
            return new Violation(Rule.MISSING_EMBEDDING_ID, "embeddingId is empty");
        }
        int idBytes = e.embeddingIdUtf8Bytes();
        if (idBytes > limits.embeddingIdMaxBytes()) {
            return new Violation(
                    Rule.INVALID_EMBEDDING_ID,
                    "embeddingId is " + idBytes + " bytes, more than " + limits.embeddingIdMaxBytes());
        }
        int bad = firstUnprintable(id);
        if (bad >= 0) {
            return new Violation(
                    Rule.INVALID_EMBEDDING_ID,
                    "embeddingId has a control character or U+FFFD at index " + bad
                            + " (bytes that are not UTF-8 decode to U+FFFD, so two different ids would collide)");
        }
        int dims = e.dimensions();
        if (dims == 0) {
            return new Violation(Rule.EMPTY_VECTOR, "vector has no values");
        }
        if (dims > limits.maxDimensions()) {
            return new Violation(
                    Rule.TOO_MANY_DIMENSIONS,
                    "vector has " + dims + " dimensions, more than the maximum " + limits.maxDimensions());
        }
        Integer forTenant = limits.dimensionsByTenant().isEmpty()
                ? null
                : limits.dimensionsByTenant().get(tenant);
        if (forTenant != null && dims != forTenant) {
            return new Violation(
                    Rule.DIMENSION_MISMATCH,
                    "vector has " + dims + " dimensions; tenant " + tenant + " uses " + forTenant);
        }
        Integer forModel = limits.dimensionsByModel().isEmpty()
                ? null
                : limits.dimensionsByModel().get(e.model());
        if (forModel != null && dims != forModel) {
            return new Violation(
                    Rule.DIMENSION_MISMATCH,
                    "vector has " + dims + " dimensions; model " + shortText(e.model()) + " produces " + forModel);
        }
        int nonFinite = e.firstNonFiniteIndex();
        if (nonFinite >= 0) {
            return new Violation(Rule.NON_FINITE_VALUE, "vector[" + nonFinite + "] is not a finite number");
        }
        int entries = e.metadataEntries();
        if (entries >= 0) {
            if (entries > limits.metadataMaxEntries()) {
                return new Violation(
                        Rule.METADATA_TOO_LARGE,
                        "metadata has " + entries + " entries, more than " + limits.metadataMaxEntries());
            }
            long bytes = e.metadataUtf8Bytes();
            if (bytes > limits.metadataMaxBytes()) {
                return new Violation(
                        Rule.METADATA_TOO_LARGE,
                        "metadata is " + bytes + " bytes, more than " + limits.metadataMaxBytes());
            }
        }
        return null;
    }

    private static String shortText(String s) {
        return s == null ? "" : s.length() > 64 ? s.substring(0, 64) + "..." : s;
    }

    /**
     * The index of the first control character (C0, DEL, C1) or U+FFFD in an id, or -1. Avro decodes bytes that are
     * not UTF-8 to U+FFFD, so an id holding one may stand for many different raw ids; it is refused rather than
     * sealed under a name that another record could share.
     */
    static int firstUnprintable(String id) {
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c == '\uFFFD') {
                return i;
            }
        }
        return -1;
    }
}
