package io.embedseal.keyring.kms.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.embedseal.config.ConfigValueException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * AWS's failures as the keyring must see them, and the settings' checks. <b>{@code FaultyKmsEndpoint} below is test
 * code standing for AWS KMS</b>: it answers every request with one error of AWS's wire format, which moto cannot be made
 * to produce (it never throttles, and never has an internal error on purpose).
 */
class AwsKmsFaultTest {

    private static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    private HttpServer faulty;
    private final AtomicInteger requests = new AtomicInteger();
    private volatile int status = 400;
    private volatile String errorType = "ThrottlingException";

    @BeforeEach
    void startFaultyKmsEndpoint() throws IOException {
        faulty = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        faulty.createContext("/", exchange -> {
            requests.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            byte[] body = ("{\"__type\":\"" + errorType + "\",\"message\":\"injected by the test\"}")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/x-amz-json-1.1");
            exchange.getResponseHeaders().add("x-amzn-ErrorType", errorType);
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        faulty.start();
    }

    @AfterEach
    void stop() {
        faulty.stop(0);
    }

    private KmsProvider provider() {
        Map<String, String> s = new HashMap<>();
        s.put("kms.provider", "aws");
        s.put("kms.aws.region", "eu-west-1");
        s.put("kms.aws.endpoint", "http://127.0.0.1:" + faulty.getAddress().getPort());
        s.put("kms.aws.allow-insecure-http", "true");
        return KmsProviderRegistry.create(KmsSettings.of(
                s,
                name -> Map.of("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY", SECRET)
                        .get(name)));
    }

    /** Each error AWS documents, typed as the keyring decides on it: retry, revoked, destroyed, the record's fault. */
    @ParameterizedTest(name = "{0} ({1}) -> {2}")
    @CsvSource({
        "ThrottlingException, 400, KmsUnavailableException",
        "KMSInternalException, 500, KmsUnavailableException",
        "DependencyTimeoutException, 503, KmsUnavailableException",
        "KeyUnavailableException, 500, KmsUnavailableException",
        "UnrecognizedClientException, 400, KmsUnavailableException",
        "ExpiredTokenException, 400, KmsUnavailableException",
        // These two say no state: the key is described, and the describe fails here too, so nothing shows the key
        // gone or withheld (the states themselves are met on moto: AwsKmsOnMotoTest, the contract).
        "DisabledException, 400, KmsUnavailableException",
        "KMSInvalidStateException, 400, KmsUnavailableException",
        "AccessDeniedException, 400, KeyDeniedException",
        "NotFoundException, 400, UnknownKeyException",
        "InvalidCiphertextException, 400, InvalidWrappedKeyException",
        "IncorrectKeyException, 400, InvalidWrappedKeyException",
        "InvalidKeyUsageException, 400, InvalidWrappedKeyException",
        "ValidationException, 400, KmsException",
        "SomethingNewException, 502, KmsUnavailableException",
    })
    void eachAwsError_isTyped_andTheSdkDoesNotRetry(String type, int httpStatus, String expected) {
        errorType = type;
        status = httpStatus;
        try (KmsProvider kms = provider()) {
            Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(
                    () -> kms.unwrapDek(new KekRef("aws", "tenant-acme", 1), new byte[] {1, 2, 3}, new byte[] {4}));

            assertThat(thrown.getClass().getSimpleName()).isEqualTo(expected);
            assertThat(thrown.getMessage()).doesNotContain(SECRET);
            // One Decrypt; a state error is followed by one DescribeKey to learn the key's state.
            assertThat(requests.get())
                    .as("requests: the SDK must not retry (the keyring's KmsRetry does)")
                    .isEqualTo(type.equals("KMSInvalidStateException") || type.equals("DisabledException") ? 2 : 1);
        }
    }

    @Test
    void aConnectionRefused_isUnavailable() {
        faulty.stop(0);
        try (KmsProvider kms = provider()) {
            assertThatThrownBy(() -> kms.describe("tenant-acme")).isInstanceOf(KmsUnavailableException.class);
        }
    }

    @Test
    void throttlingOnWrap_isUnavailable_soTheKeyringRetriesIt() {
        try (KmsProvider kms = provider()) {
            assertThatThrownBy(() -> kms.wrapDek("tenant-acme", new byte[32], new byte[] {1}))
                    .isInstanceOf(KmsUnavailableException.class)
                    .hasMessageContaining("ThrottlingException");
        }
        assertThat(requests.get()).isEqualTo(1);
    }

    @Test
    void settings_errorsNameTheSetting_andNothingShowsTheSecret() {
        Map<String, String> s = new HashMap<>();
        s.put("kms.provider", "aws");
        s.put("kms.aws.endpoint", "http://127.0.0.1:1");
        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(s, name -> null)))
                .isInstanceOfSatisfying(
                        ConfigValueException.class, e -> assertThat(e.setting()).isEqualTo("kms.aws.region"));
        s.put("kms.aws.region", "eu-west-1");
        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(s, name -> null)))
                .isInstanceOfSatisfying(ConfigValueException.class, e -> {
                    assertThat(e.setting()).isEqualTo("kms.aws.endpoint");
                    assertThat(e.getMessage()).contains("kms.aws.allow-insecure-http");
                });
        s.put("kms.aws.endpoint", "https://kms.eu-west-1.amazonaws.com");
        s.put("kms.aws.pending-window-days", "3");
        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(s, name -> null)))
                .isInstanceOf(ConfigValueException.class)
                .hasMessageContaining("kms.aws.pending-window-days");

        try (KmsProvider kms = provider()) {
            assertThat(kms.toString())
                    .doesNotContain(SECRET)
                    .doesNotContain("AKIAEXAMPLE")
                    .contains("eu-west-1");
            assertThat(((AwsKms) kms).settings().toString()).doesNotContain(SECRET);
        }
    }

    @Test
    void aKeyOfAnotherProvider_isUnknown_withoutAsking() {
        try (KmsProvider kms = provider()) {
            assertThatThrownBy(
                            () -> kms.unwrapDek(new KekRef("vault", "tenant-acme", 1), new byte[] {1}, new byte[] {1}))
                    .isInstanceOf(UnknownKeyException.class);
        }
        assertThat(requests.get()).isZero();
    }
}
