package io.embedseal.reliability;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Finds secrets in bytes in every form a log could carry them: the raw bytes, hex in either case, and Base64
 * (standard and URL-safe) at each of the three alignments a secret can have inside a longer encoded string (only
 * the characters that depend on the secret alone are searched). One pass over the input, whatever the number of
 * secrets: each form is indexed by its first 8 bytes.
 */
final class SecretScanner {

    record Hit(String label, String form) {}

    private record Needle(String label, String form, byte[] bytes) {}

    private final Map<Long, List<Needle>> byPrefix = new HashMap<>();

    void add(String label, byte[] secret) {
        add(new Needle(label, "raw", secret));
        String hex = HexFormat.of().formatHex(secret);
        add(new Needle(label, "hex", hex.getBytes(StandardCharsets.US_ASCII)));
        add(new Needle(label, "HEX", hex.toUpperCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII)));
        for (int shift = 0; shift < 3; shift++) {
            byte[] shifted = new byte[shift + secret.length];
            System.arraycopy(secret, 0, shifted, shift, secret.length);
            for (Base64.Encoder encoder : List.of(Base64.getEncoder(), Base64.getUrlEncoder())) {
                String b64 = encoder.withoutPadding().encodeToString(shifted);
                // characters covering only secret bits: skip those touched by the shift, and the last partial one
                int from = (shift * 8 + 5) / 6;
                int to = (shifted.length * 8) / 6;
                if (to - from >= 8) {
                    add(new Needle(label, "base64", b64.substring(from, to).getBytes(StandardCharsets.US_ASCII)));
                }
            }
        }
    }

    private void add(Needle n) {
        if (n.bytes().length < 8) {
            throw new IllegalArgumentException("secret " + n.label() + " is too short to scan for without false hits");
        }
        byPrefix.computeIfAbsent(prefix(n.bytes(), 0), k -> new ArrayList<>()).add(n);
    }

    List<Hit> scan(byte[] data) {
        List<Hit> hits = new ArrayList<>();
        for (int i = 0; i + 8 <= data.length; i++) {
            List<Needle> candidates = byPrefix.get(prefix(data, i));
            if (candidates != null) {
                for (Needle n : candidates) {
                    if (i + n.bytes().length <= data.length
                            && Arrays.equals(data, i, i + n.bytes().length, n.bytes(), 0, n.bytes().length)) {
                        hits.add(new Hit(n.label(), n.form()));
                    }
                }
            }
        }
        return hits;
    }

    private static long prefix(byte[] b, int at) {
        long v = 0;
        for (int k = 0; k < 8; k++) {
            v = v << 8 | (b[at + k] & 0xFF);
        }
        return v;
    }
}
