package io.embedseal.kms.testsupport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * <b>Test code.</b> A real PKCS#11 token from SoftHSM2 (Debian package {@code softhsm2}), initialised once per
 * JVM in a directory of the build. SoftHSM reads its configuration from the file named by the environment
 * variable {@code SOFTHSM2_CONF} when the module is first loaded, so the build sets that variable for test
 * JVMs ({@code target/softhsm/softhsm2.conf}) and this class writes the file before anything loads the module.
 *
 * <p>Without SoftHSM2 the tests that need it are skipped with a message, unless
 * {@code EMBEDSEAL_REQUIRE_SOFTHSM=1} (as CI sets it), in which case they fail: a broken install must not
 * pass silently.
 */
public final class SoftHsm {

    public static final String LIBRARY = "/usr/lib/softhsm/libsofthsm2.so";
    public static final String UTIL = "softhsm2-util";
    private static final String PIN = "embedseal-test-pin";
    private static final Pattern SLOT = Pattern.compile("slot (\\d+)");

    private static @Nullable Token shared;

    private SoftHsm() {}

    /** An initialised token. */
    public record Token(long slot, Path pinFile, Path configFile) {

        /** Keyring settings that reach this token through SunPKCS11. */
        public Map<String, String> settings() {
            Map<String, String> s = new LinkedHashMap<>();
            s.put("kms.provider", "pkcs11");
            s.put("kms.pkcs11.library", LIBRARY);
            s.put("kms.pkcs11.slot", Long.toString(slot));
            s.put("kms.pkcs11.pin-file", pinFile.toString());
            return s;
        }
    }

    /** Skips (or, with EMBEDSEAL_REQUIRE_SOFTHSM=1, fails) the calling test when SoftHSM2 is missing. */
    public static void assumeAvailable() {
        String missing = missing();
        if (missing == null) {
            return;
        }
        String message = "needs SoftHSM2 for a real PKCS#11 token: " + missing + " (apt-get install softhsm2)";
        if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_SOFTHSM"))) {
            Assertions.fail(message + "; EMBEDSEAL_REQUIRE_SOFTHSM=1 makes this a failure");
        }
        Assumptions.abort(message);
    }

    private static @Nullable String missing() {
        if (!Files.isReadable(Path.of(LIBRARY))) {
            return LIBRARY + " is missing";
        }
        String conf = System.getenv("SOFTHSM2_CONF");
        if (conf == null || conf.isBlank()) {
            return "SOFTHSM2_CONF is not set for this JVM (the build sets it for tests)";
        }
        return null;
    }

    /** {@code CKA_ENCRYPT}: the key may encrypt (wrap a DEK). */
    public static final long CKA_ENCRYPT = 0x104;

    /** {@code CKA_DECRYPT}: the key may decrypt (unwrap a DEK). */
    public static final long CKA_DECRYPT = 0x105;

    /**
     * Sets a boolean attribute of the token's key object labelled {@code label}, as an HSM administrator does to revoke
     * a key ({@code CKA_ENCRYPT=false}). SunPKCS11 cannot change attributes, so this calls the token through the JDK's
     * PKCS#11 wrapper (the test JVM has {@code --add-exports jdk.crypto.cryptoki/sun.security.pkcs11.wrapper}).
     *
     * @return how many objects carry the label (all of them were changed)
     */
    public static int setKeyAttribute(Token token, String label, long attribute, boolean value) {
        try {
            String pkg = "sun.security.pkcs11.wrapper.";
            Class<?> p11 = Class.forName(pkg + "PKCS11");
            Class<?> initArgs = Class.forName(pkg + "CK_C_INITIALIZE_ARGS");
            Class<?> notify = Class.forName(pkg + "CK_NOTIFY");
            Class<?> attr = Class.forName(pkg + "CK_ATTRIBUTE");
            Object lib = p11.getMethod("getInstance", String.class, String.class, initArgs, boolean.class)
                    .invoke(null, LIBRARY, "C_GetFunctionList", null, false);
            long rwSerial = 0x2 | 0x4; // CKF_RW_SESSION | CKF_SERIAL_SESSION
            long session = (long) p11.getMethod("C_OpenSession", long.class, long.class, Object.class, notify)
                    .invoke(lib, token.slot(), rwSerial, null, null);
            try {
                char[] pin = Files.readString(token.pinFile()).strip().toCharArray();
                try {
                    p11.getMethod("C_Login", long.class, long.class, char[].class)
                            .invoke(lib, session, 1L, pin);
                } catch (java.lang.reflect.InvocationTargetException e) {
                    if (!String.valueOf(e.getCause()).contains("CKR_USER_ALREADY_LOGGED_IN")) {
                        throw e;
                    }
                }
                Object template = java.lang.reflect.Array.newInstance(attr, 1);
                java.lang.reflect.Array.set(
                        template,
                        0,
                        attr.getConstructor(long.class, Object.class).newInstance(3L, label.toCharArray()));
                p11.getMethod("C_FindObjectsInit", long.class, template.getClass())
                        .invoke(lib, session, template);
                long[] found = (long[])
                        p11.getMethod("C_FindObjects", long.class, long.class).invoke(lib, session, 16L);
                p11.getMethod("C_FindObjectsFinal", long.class).invoke(lib, session);
                Object change = java.lang.reflect.Array.newInstance(attr, 1);
                java.lang.reflect.Array.set(
                        change,
                        0,
                        attr.getConstructor(long.class, boolean.class).newInstance(attribute, value));
                for (long handle : found) {
                    p11.getMethod("C_SetAttributeValue", long.class, long.class, change.getClass())
                            .invoke(lib, session, handle, change);
                }
                return found.length;
            } finally {
                p11.getMethod("C_CloseSession", long.class).invoke(lib, session);
            }
        } catch (ReflectiveOperationException | java.io.IOException e) {
            throw new IllegalStateException(
                    "cannot change attribute 0x" + Long.toHexString(attribute) + " of '" + label + "' in SoftHSM2 "
                            + "(does the test JVM have --add-exports jdk.crypto.cryptoki/sun.security.pkcs11.wrapper="
                            + "ALL-UNNAMED?): " + e,
                    e);
        }
    }

    /** The JVM's token, initialised on first call. Tests share it and use distinct key names. */
    public static synchronized Token sharedToken() {
        assumeAvailable();
        if (shared == null) {
            shared = initialise(Path.of(System.getenv("SOFTHSM2_CONF")));
        }
        return shared;
    }

    private static Token initialise(Path conf) {
        try {
            Path home = java.util.Objects.requireNonNull(
                    conf.toAbsolutePath().getParent(), "SOFTHSM2_CONF names no directory");
            Path tokens = home.resolve("tokens");
            if (Files.exists(tokens)) {
                try (Stream<Path> walk = Files.walk(tokens)) {
                    walk.sorted(Comparator.reverseOrder())
                            .forEach(p -> p.toFile().delete());
                }
            }
            Files.createDirectories(tokens);
            Files.writeString(
                    conf,
                    "directories.tokendir = " + tokens + "\n"
                            + "objectstore.backend = file\n"
                            + "log.level = ERROR\n"
                            + "slots.removable = false\n",
                    StandardCharsets.UTF_8);
            ProcessBuilder pb = new ProcessBuilder(
                            UTIL,
                            "--init-token",
                            "--free",
                            "--label",
                            "embedseal-test",
                            "--so-pin",
                            "embedseal-test-so",
                            "--pin",
                            PIN)
                    .redirectErrorStream(true);
            pb.environment().put("SOFTHSM2_CONF", conf.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(UTIL + " --init-token failed: " + out);
            }
            Matcher m = SLOT.matcher(out);
            if (!m.find()) {
                throw new IllegalStateException(UTIL + " did not report a slot: " + out);
            }
            Path pinFile = home.resolve("pin");
            Files.writeString(pinFile, PIN, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(pinFile, PosixFilePermissions.fromString("rw-------"));
            return new Token(Long.parseLong(m.group(1)), pinFile, conf);
        } catch (IOException e) {
            throw new IllegalStateException("cannot initialise a SoftHSM2 token (is " + UTIL + " installed?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
