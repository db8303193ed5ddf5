package io.embedseal.serdes.validation;

import io.embedseal.keyring.TenantIds;
import io.embedseal.serdes.envelope.EnvelopeHeader;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What an embedding must satisfy before it is sealed. Built from settings ({@link #fromSettings}):
 *
 * <table>
 *   <caption>Validation settings</caption>
 *   <tr><th>setting</th><th>default</th></tr>
 *   <tr><td>validation.max-dimensions</td><td>16384</td></tr>
 *   <tr><td>validation.dimensions.model.&lt;model&gt;</td><td>(none) the exact dimension vectors of that model must have</td></tr>
 *   <tr><td>validation.dimensions.tenant.&lt;tenant&gt;</td><td>(none) the exact dimension the tenant's vectors must have</td></tr>
 *   <tr><td>validation.tenant-id.max-length</td><td>64 (at most 64)</td></tr>
 *   <tr><td>validation.tenant-id.pattern</td><td>(none) a further regular expression tenant ids must match</td></tr>
 *   <tr><td>validation.embedding-id.max-bytes</td><td>1024 (at most 1024)</td></tr>
 *   <tr><td>validation.metadata.max-entries</td><td>64</td></tr>
 *   <tr><td>validation.metadata.max-bytes</td><td>16384 (keys and values, UTF-8)</td></tr>
 * </table>
 */
public record ValidationLimits(int maxDimensions, Map<String, Integer> dimensionsByModel, Map<String, Integer> dimensionsByTenant,
                               int tenantIdMaxLength, Pattern tenantIdPattern, int embeddingIdMaxBytes,
                               int metadataMaxEntries, int metadataMaxBytes) {

    public static final int DEFAULT_MAX_DIMENSIONS = 16_384;

    public ValidationLimits {
        require("validation.max-dimensions", maxDimensions, 1, 1 << 20);
        require("validation.tenant-id.max-length", tenantIdMaxLength, 1, TenantIds.MAX_LENGTH);
        require("validation.embedding-id.max-bytes", embeddingIdMaxBytes, 1, EnvelopeHeader.MAX_EMBEDDING_ID_BYTES);
        require("validation.metadata.max-entries", metadataMaxEntries, 0, 1 << 16);
        require("validation.metadata.max-bytes", metadataMaxBytes, 0, 16 << 20);
        dimensionsByModel = Map.copyOf(dimensionsByModel);
        dimensionsByTenant = Map.copyOf(dimensionsByTenant);
        dimensionsByModel.forEach((m, d) -> require("validation.dimensions.model." + m, d, 1, maxDimensions));
        dimensionsByTenant.forEach((t, d) -> require("validation.dimensions.tenant." + t, d, 1, maxDimensions));
    }

    public static ValidationLimits defaults() {
        return new ValidationLimits(DEFAULT_MAX_DIMENSIONS, Map.of(), Map.of(), TenantIds.MAX_LENGTH, null,
                EnvelopeHeader.MAX_EMBEDDING_ID_BYTES, 64, 16 * 1024);
    }

    public ValidationLimits withMaxDimensions(int max) {
        return new ValidationLimits(max, dimensionsByModel, dimensionsByTenant, tenantIdMaxLength, tenantIdPattern,
                embeddingIdMaxBytes, metadataMaxEntries, metadataMaxBytes);
    }

    /**
     * @throws IllegalArgumentException naming the setting, for a bad value
     */
    public static ValidationLimits fromSettings(Map<String, String> s) {
        ValidationLimits d = defaults();
        Map<String, Integer> byModel = new HashMap<>();
        Map<String, Integer> byTenant = new HashMap<>();
        s.forEach((k, v) -> {
            if (k.startsWith("validation.dimensions.model.")) {
                byModel.put(k.substring("validation.dimensions.model.".length()), parse(k, v));
            } else if (k.startsWith("validation.dimensions.tenant.")) {
                byTenant.put(k.substring("validation.dimensions.tenant.".length()), parse(k, v));
            }
        });
        Pattern pattern = null;
        String p = s.get("validation.tenant-id.pattern");
        if (p != null && !p.isBlank()) {
            try {
                pattern = Pattern.compile(p);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("validation.tenant-id.pattern is not a regular expression: " + e.getDescription(), e);
            }
        }
        return new ValidationLimits(
                intSetting(s, "validation.max-dimensions", d.maxDimensions()), byModel, byTenant,
                intSetting(s, "validation.tenant-id.max-length", d.tenantIdMaxLength()), pattern,
                intSetting(s, "validation.embedding-id.max-bytes", d.embeddingIdMaxBytes()),
                intSetting(s, "validation.metadata.max-entries", d.metadataMaxEntries()),
                intSetting(s, "validation.metadata.max-bytes", d.metadataMaxBytes()));
    }

    private static int intSetting(Map<String, String> s, String key, int defaultValue) {
        String v = s.get(key);
        return v == null || v.isBlank() ? defaultValue : parse(key, v);
    }

    private static int parse(String key, String v) {
        try {
            return Integer.parseInt(v.trim().replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a whole number, got '" + v + "'", e);
        }
    }

    private static void require(String key, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(key + " must be between " + min + " and " + max + ", got " + value);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ValidationLimits v && maxDimensions == v.maxDimensions && dimensionsByModel.equals(v.dimensionsByModel)
                && dimensionsByTenant.equals(v.dimensionsByTenant) && tenantIdMaxLength == v.tenantIdMaxLength
                && Objects.equals(String.valueOf(tenantIdPattern), String.valueOf(v.tenantIdPattern))
                && embeddingIdMaxBytes == v.embeddingIdMaxBytes && metadataMaxEntries == v.metadataMaxEntries
                && metadataMaxBytes == v.metadataMaxBytes;
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxDimensions, dimensionsByModel, dimensionsByTenant, tenantIdMaxLength, embeddingIdMaxBytes);
    }
}
