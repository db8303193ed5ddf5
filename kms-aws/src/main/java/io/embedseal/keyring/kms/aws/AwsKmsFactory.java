package io.embedseal.keyring.kms.aws;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.profiles.ProfileFileSupplier;

/** {@code kms.provider=aws}: AWS KMS through the AWS SDK for Java v2, {@code kms.aws.*}. */
public final class AwsKmsFactory implements KmsProviderFactory {

    public static final Setting<String> REGION = Setting.string("kms.aws.region", null)
            .required("when kms.provider=aws and neither AWS_REGION nor AWS_DEFAULT_REGION is set (e.g. eu-west-1)")
            .importance(Setting.Importance.HIGH)
            .doc("The AWS region of the tenants' keys; AWS_REGION (then AWS_DEFAULT_REGION) when unset.");
    public static final Setting<String> ENDPOINT = Setting.string("kms.aws.endpoint", null)
            .doc("An endpoint instead of AWS KMS's public one for the region: a VPC endpoint"
                    + " (https://vpce-....kms.<region>.vpce.amazonaws.com) or, for development, a test server.");
    public static final Setting<Boolean> ALLOW_INSECURE_HTTP = Setting.bool("kms.aws.allow-insecure-http", false)
            .doc("Development only: accept an http:// kms.aws.endpoint (a local moto server). Over plain http every"
                    + " data-encryption key and the request signatures cross the network in the clear, so the default"
                    + " refuses it.");
    public static final Setting<String> PROFILE = Setting.string("kms.aws.profile", null)
            .doc("A profile of ~/.aws/config and ~/.aws/credentials for the SDK's default credential chain; AWS_PROFILE"
                    + " or 'default' when unset. Credentials themselves are never settings: the chain reads them from"
                    + " the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the profile, web"
                    + " identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, as EKS sets them for a service"
                    + " account), the container or the instance metadata.");
    public static final Setting<Path> CREDENTIALS_FILE = Setting.path("kms.aws.credentials-file", null)
            .doc("A shared credentials file (the format of ~/.aws/credentials) to read kms.aws.profile's keys from,"
                    + " instead of the default chain; its keys are read, never logged. Keys in the environment"
                    + " (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) still come first.");
    public static final Setting<String> ALIAS_PREFIX = Setting.string("kms.aws.alias-prefix", "embedseal/")
            .doc("Keys embedseal creates are found by the alias alias/<prefix><key name> (key pairs' versions by"
                    + " alias/<prefix><key name>/v<N>). A key named by its ARN (a tenant's key in its own account) is"
                    + " used as it is named.");
    public static final Setting<Long> PENDING_WINDOW_DAYS = Setting.longValue("kms.aws.pending-window-days", 7, 7, 30)
            .doc(
                    "The waiting period of ScheduleKeyDeletion when a key is destroyed (AWS allows 7 to 30 days). The key"
                            + " is unusable at once; AWS deletes it, and the crypto-shredding is complete, when the period ends.");
    public static final Setting<Long> CONNECT_TIMEOUT_MS = Setting.longValue(
                    "kms.aws.connect-timeout-ms", 5_000, 1, Integer.MAX_VALUE)
            .doc("How long to wait to connect to AWS KMS.");
    public static final Setting<Long> CALL_TIMEOUT_MS = Setting.longValue(
                    "kms.aws.call-timeout-ms", 10_000, 1, Integer.MAX_VALUE)
            .doc("How long one AWS KMS call may take in all. The SDK does not retry: the keyring does"
                    + " (kms.retry.*).");

    @Override
    public String name() {
        return AwsKms.PROVIDER;
    }

    @Override
    public SettingsModel settings() {
        return SettingsModel.of(
                "AWS KMS",
                REGION,
                ENDPOINT,
                ALLOW_INSECURE_HTTP,
                PROFILE,
                CREDENTIALS_FILE,
                ALIAS_PREFIX,
                PENDING_WINDOW_DAYS,
                CONNECT_TIMEOUT_MS,
                CALL_TIMEOUT_MS);
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        String region = s.getOrNull(REGION);
        if (region == null) {
            region = firstSet(s.env("AWS_REGION"), s.env("AWS_DEFAULT_REGION"));
        }
        if (region == null) {
            throw new ConfigValueException(
                    REGION.name(), "kms.aws.region is required when kms.provider=aws and AWS_REGION is not set");
        }
        URI endpoint = endpoint(s);
        try {
            return new AwsKms(new AwsKms.AwsSettings(
                    region,
                    endpoint,
                    credentials(s),
                    s.get(ALIAS_PREFIX),
                    s.get(PENDING_WINDOW_DAYS).intValue(),
                    Duration.ofMillis(s.get(CONNECT_TIMEOUT_MS)),
                    Duration.ofMillis(s.get(CALL_TIMEOUT_MS))));
        } catch (IllegalArgumentException e) {
            throw new ConfigValueException(ALIAS_PREFIX.name(), ALIAS_PREFIX.name() + ": " + e.getMessage());
        }
    }

    private static @Nullable URI endpoint(KmsSettings s) {
        String text = s.getOrNull(ENDPOINT);
        if (text == null) {
            return null;
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new ConfigValueException(ENDPOINT.name(), ENDPOINT.name() + ": not a URI: " + text);
        }
        if ("http".equals(uri.getScheme()) && !s.get(ALLOW_INSECURE_HTTP)) {
            throw new ConfigValueException(
                    ENDPOINT.name(),
                    ENDPOINT.name() + " is http:// (" + text + "): every data-encryption key would cross the network in"
                            + " the clear; use https, or set " + ALLOW_INSECURE_HTTP.name()
                            + "=true for a local development server");
        }
        if ((!"https".equals(uri.getScheme()) && !"http".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new ConfigValueException(ENDPOINT.name(), ENDPOINT.name() + " must be an https:// URL, got: " + text);
        }
        return uri;
    }

    /**
     * The SDK's default chain, whose first link (the environment's keys) reads the environment these settings were
     * given: the process's own, or a test's.
     */
    private static AwsCredentialsProvider credentials(KmsSettings s) {
        String id = s.env("AWS_ACCESS_KEY_ID");
        String secret = s.env("AWS_SECRET_ACCESS_KEY");
        if (id != null && !id.isBlank() && secret != null && !secret.isBlank()) {
            String session = s.env("AWS_SESSION_TOKEN");
            return StaticCredentialsProvider.create(
                    session == null || session.isBlank()
                            ? AwsBasicCredentials.create(id, secret)
                            : AwsSessionCredentials.create(id, secret, session));
        }
        String profile = s.getOrNull(PROFILE);
        Path file = s.readableFileOrNull(CREDENTIALS_FILE);
        if (file != null) {
            // Read again when it changes, so credentials rotated into the file are used without a restart.
            return ProfileCredentialsProvider.builder()
                    .profileFile(ProfileFileSupplier.reloadWhenModified(file, ProfileFile.Type.CREDENTIALS))
                    .profileName(profile == null ? "default" : profile)
                    .build();
        }
        return profile == null
                ? DefaultCredentialsProvider.builder().build()
                : DefaultCredentialsProvider.builder().profileName(profile).build();
    }

    private static @Nullable String firstSet(@Nullable String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }
}
