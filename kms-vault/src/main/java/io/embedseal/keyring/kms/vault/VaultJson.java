package io.embedseal.keyring.kms.vault;

import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The JSON of Transit's encrypt and decrypt, read and written as bytes, so that a DEK (base64 in both) never becomes
 * a {@link String}: a String cannot be zeroed and lives until collected, while these arrays are zeroed by the caller
 * as soon as the exchange is over. Only what Transit needs: a flat object of string members going out, one string
 * member of {@code data} coming back. Everything else in an answer is skipped, never interpreted.
 */
final class VaultJson {

    /** Nesting deeper than this in an answer is refused (Transit's answers nest two levels). */
    private static final int MAX_DEPTH = 64;

    private final byte[] b;
    private int p;

    private VaultJson(byte[] b) {
        this.b = b;
    }

    /**
     * {@code {"<name0>":"<value0>","<name1>":"<value1>",...}} in one array of exactly the right size. Names and values
     * are given as ASCII and must need no escaping (names are constants; values are base64 or a Transit ciphertext,
     * both checked here).
     */
    static byte[] object(String[] names, byte[][] values) {
        int size = 1;
        for (int i = 0; i < names.length; i++) {
            requirePlain(values[i]);
            size += (i == 0 ? 0 : 1) + names[i].length() + 3 + values[i].length + 2;
        }
        size += 1;
        byte[] out = new byte[size];
        int q = 0;
        out[q++] = '{';
        for (int i = 0; i < names.length; i++) {
            if (i > 0) {
                out[q++] = ',';
            }
            out[q++] = '"';
            byte[] name = names[i].getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(name, 0, out, q, name.length);
            q += name.length;
            out[q++] = '"';
            out[q++] = ':';
            out[q++] = '"';
            System.arraycopy(values[i], 0, out, q, values[i].length);
            q += values[i].length;
            out[q++] = '"';
        }
        out[q++] = '}';
        if (q != size) {
            throw new IllegalStateException("JSON size miscounted");
        }
        return out;
    }

    private static void requirePlain(byte[] value) {
        for (byte c : value) {
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                throw new IllegalArgumentException("a value that needs escaping");
            }
        }
    }

    /**
     * Where the string {@code <outer>.<inner>} of a JSON object lies in {@code json}: {start, end} of its content,
     * without the quotes; null if there is no such member. The string must hold no escape (base64 and Transit
     * ciphertexts never do).
     *
     * @throws IllegalArgumentException if {@code json} is not one JSON object, or the member is not such a string, or
     *                                  it appears twice
     */
    static int @Nullable [] stringMember(byte[] json, String outer, String inner) {
        VaultJson r = new VaultJson(json);
        int[] found = r.findInObject(outer, inner);
        r.ws();
        if (r.p != json.length) {
            throw new IllegalArgumentException("text after the JSON object");
        }
        return found;
    }

    /** At an object: walks its members; returns the range of {@code outer.inner}, found in this object's member. */
    private int @Nullable [] findInObject(String outer, @Nullable String inner) {
        ws();
        expect('{');
        int[] found = null;
        boolean seen = false;
        ws();
        if (peek() == '}') {
            p++;
            return null;
        }
        while (true) {
            ws();
            int[] key = string();
            ws();
            expect(':');
            ws();
            if (named(key, outer)) {
                if (seen) {
                    throw new IllegalArgumentException("member '" + outer + "' twice");
                }
                seen = true;
                if (inner == null) {
                    if (peek() == '"') {
                        found = plainString();
                    } else {
                        skipValue();
                    }
                } else if (peek() == '{') {
                    found = findInObject(inner, null);
                } else {
                    skipValue();
                }
            } else {
                skipValue();
            }
            ws();
            byte c = next();
            if (c == '}') {
                return found;
            }
            if (c != ',') {
                throw new IllegalArgumentException("expected , or } at " + (p - 1));
            }
        }
    }

    private boolean named(int[] key, String name) {
        if (key[1] - key[0] != name.length()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            if (b[key[0] + i] != name.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** A string without escapes: its content range. */
    private int[] plainString() {
        int[] s = string();
        for (int i = s[0]; i < s[1]; i++) {
            if (b[i] == '\\') {
                throw new IllegalArgumentException("an escaped character where base64 was expected");
            }
        }
        return s;
    }

    /** At a string: skips it, escapes included; returns its content range. */
    private int[] string() {
        expect('"');
        int start = p;
        while (true) {
            byte c = next();
            if (c == '"') {
                return new int[] {start, p - 1};
            }
            if (c == '\\') {
                next();
            } else if (c >= 0 && c < 0x20) {
                throw new IllegalArgumentException("control character in a string at " + (p - 1));
            }
        }
    }

    /** Skips one value of any kind, containers by counting brackets (no recursion). */
    private void skipValue() {
        byte c = peek();
        if (c == '"') {
            string();
            return;
        }
        if (c != '{' && c != '[') {
            int start = p;
            while (p < b.length && "{}[],: \t\r\n\"".indexOf(b[p]) < 0) {
                p++;
            }
            if (p == start) {
                throw new IllegalArgumentException("expected a value at " + p);
            }
            return;
        }
        int depth = 0;
        do {
            c = peek();
            if (c == '"') {
                string();
                continue;
            }
            p++;
            if (c == '{' || c == '[') {
                if (++depth > MAX_DEPTH) {
                    throw new IllegalArgumentException("nested too deeply");
                }
            } else if (c == '}' || c == ']') {
                depth--;
            }
        } while (depth > 0);
    }

    private void ws() {
        while (p < b.length && (b[p] == ' ' || b[p] == '\t' || b[p] == '\r' || b[p] == '\n')) {
            p++;
        }
    }

    private void expect(char c) {
        if (next() != c) {
            throw new IllegalArgumentException("expected " + c + " at " + (p - 1));
        }
    }

    private byte peek() {
        if (p >= b.length) {
            throw new IllegalArgumentException("answer cut short");
        }
        return b[p];
    }

    private byte next() {
        byte c = peek();
        p++;
        return c;
    }
}
