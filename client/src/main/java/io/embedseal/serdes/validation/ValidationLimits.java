package io.embedseal.serdes.validation;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.Settings;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.TenantIds;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What an embedding must satisfy before it is sealed. Built from settings ({@link #fromSettings}), defined in
 * {@link #MODEL} (reference: docs/configuration.md).
 */
public record ValidationLimits(
        int maxDimensions,
        Map<String, Integer> dimensionsByModel,
        Map<String, Integer> dimensionsByTenant,
        int tenantIdMaxLength,
        @Nullable Pattern tenantIdPattern,
        int embeddingIdMaxBytes,
        int metadataMaxEntries,
        int metadataMaxBytes) {

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
        return new ValidationLimits(
                DEFAULT_MAX_DIMENSIONS,
                Map.of(),
                Map.of(),
                TenantIds.MAX_LENGTH,
                null,
                EnvelopeHeader.MAX_EMBEDDING_ID_BYTES,
                64,
                16 * 1024);
    }

    public ValidationLimits withMaxDimensions(int max) {
        return new ValidationLimits(
                max,
                dimensionsByModel,
                dimensionsByTenant,
                tenantIdMaxLength,
                tenantIdPattern,
                embeddingIdMaxBytes,
                metadataMaxEntries,
                metadataMaxBytes);
    }

    public static final Setting<Integer> MAX_DIMENSIONS = Setting.intValue(
                    "validation.max-dimensions", DEFAULT_MAX_DIMENSIONS, 1, 1 << 20)
            .doc("The most dimensions a vector may have; more: dead letter `TOO_MANY_DIMENSIONS`.");
    public static final Setting<Integer> DIMENSIONS_BY_MODEL = Setting.intValue(
                    "validation.dimensions.model.", 1, 1 << 20)
            .family("model")
            .doc("The exact dimension the vectors of that model must have; another: `DIMENSION_MISMATCH`.");
    public static final Setting<Integer> DIMENSIONS_BY_TENANT = Setting.intValue(
                    "validation.dimensions.tenant.", 1, 1 << 20)
            .family("tenant")
            .doc("The exact dimension the tenant's vectors must have; another: `DIMENSION_MISMATCH`.");
    public static final Setting<Integer> TENANT_ID_MAX_LENGTH = Setting.intValue(
                    "validation.tenant-id.max-length", TenantIds.MAX_LENGTH, 1, TenantIds.MAX_LENGTH)
            .doc(
                    "The longest tenant id; longer: `INVALID_TENANT_ID`. Tenant ids always match `[A-Za-z0-9][A-Za-z0-9._-]{0,63}` (they become parts of key and file names); settings can only narrow that.");
    public static final Setting<Pattern> TENANT_ID_PATTERN = Setting.regex("validation.tenant-id.pattern")
            .doc("A further regular expression tenant ids must match; else `INVALID_TENANT_ID`.");
    public static final Setting<Integer> EMBEDDING_ID_MAX_BYTES = Setting.intValue(
                    "validation.embedding-id.max-bytes",
                    EnvelopeHeader.MAX_EMBEDDING_ID_BYTES,
                    1,
                    EnvelopeHeader.MAX_EMBEDDING_ID_BYTES)
            .doc("The longest embedding id, in UTF-8 bytes; longer: `INVALID_EMBEDDING_ID`.");
    public static final Setting<Integer> METADATA_MAX_ENTRIES = Setting.intValue(
                    "validation.metadata.max-entries", 64, 0, 1 << 16)
            .doc("The most metadata entries an event may carry; more: `METADATA_TOO_LARGE`.");
    public static final Setting<Integer> METADATA_MAX_BYTES = Setting.intValue(
                    "validation.metadata.max-bytes", 16 * 1024, 0, 16 << 20)
            .doc("The most metadata bytes (keys and values, UTF-8) an event may carry; more: `METADATA_TOO_LARGE`.");

    /** What an embedding must satisfy: the pipeline's and the sealing serializer's rules. */
    public static final SettingsModel MODEL = SettingsModel.of(
            "validation",
            MAX_DIMENSIONS,
            DIMENSIONS_BY_MODEL,
            DIMENSIONS_BY_TENANT,
            TENANT_ID_MAX_LENGTH,
            TENANT_ID_PATTERN,
            EMBEDDING_ID_MAX_BYTES,
            METADATA_MAX_ENTRIES,
            METADATA_MAX_BYTES);

    /**
     * @throws io.embedseal.config.ConfigValueException naming the setting, for a bad value
     */
    public static ValidationLimits fromSettings(Map<String, String> values) {
        Settings s = Settings.of(values, name -> null);
        return new ValidationLimits(
                s.get(MAX_DIMENSIONS),
                s.family(DIMENSIONS_BY_MODEL),
                s.family(DIMENSIONS_BY_TENANT),
                s.get(TENANT_ID_MAX_LENGTH),
                s.getOrNull(TENANT_ID_PATTERN),
                s.get(EMBEDDING_ID_MAX_BYTES),
                s.get(METADATA_MAX_ENTRIES),
                s.get(METADATA_MAX_BYTES));
    }

    private static void require(String key, int value, int min, int max) {
        if (value < min || value > max) {
            throw new ConfigValueException(key, key + " must be between " + min + " and " + max + ", got " + value);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ValidationLimits v
                && maxDimensions == v.maxDimensions
                && dimensionsByModel.equals(v.dimensionsByModel)
                && dimensionsByTenant.equals(v.dimensionsByTenant)
                && tenantIdMaxLength == v.tenantIdMaxLength
                && Objects.equals(String.valueOf(tenantIdPattern), String.valueOf(v.tenantIdPattern))
                && embeddingIdMaxBytes == v.embeddingIdMaxBytes
                && metadataMaxEntries == v.metadataMaxEntries
                && metadataMaxBytes == v.metadataMaxBytes;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                maxDimensions, dimensionsByModel, dimensionsByTenant, tenantIdMaxLength, embeddingIdMaxBytes);
    }
}
