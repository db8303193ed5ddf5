package io.embedseal.sinks.search;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a query vector: numbers separated by commas and/or whitespace, optionally in square brackets (so a JSON
 * array works), given inline or in a file.
 */
public final class QueryVectors {

    private static final java.util.regex.Pattern SEPARATORS = java.util.regex.Pattern.compile("[\\s,]+");

    /** Longest query file accepted (a 16k-dimension vector of long decimals fits). */
    private static final long MAX_FILE_BYTES = 1 << 20;

    private QueryVectors() {}

    /**
     * @param fileOrInline a path to an existing file, or the numbers themselves
     * @throws IllegalArgumentException saying what is wrong (not the values)
     */
    public static float[] parse(String fileOrInline) {
        String text = fileOrInline;
        Path p;
        try {
            p = Path.of(fileOrInline);
        } catch (RuntimeException e) {
            p = null;
        }
        if (p != null && Files.isRegularFile(p)) {
            try {
                if (Files.size(p) > MAX_FILE_BYTES) {
                    throw new IllegalArgumentException(
                            "query file " + p + " is larger than " + MAX_FILE_BYTES + " bytes");
                }
                text = Files.readString(p, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the query file " + p + ": " + e.getMessage(), e);
            }
        }
        String body = text.strip();
        if (body.startsWith("[") && body.endsWith("]")) {
            body = body.substring(1, body.length() - 1);
        }
        String[] parts = SEPARATORS.split(body.strip(), 0); // 0: trailing separators add no empty part
        if (parts.length == 0 || parts[0].isEmpty()) {
            throw new IllegalArgumentException(
                    "the query vector is empty: give numbers separated by commas, or a file of them");
        }
        float[] v = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                v[i] = Float.parseFloat(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the query vector's element " + i + " is not a number");
            }
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException("the query vector's element " + i + " is not finite");
            }
        }
        return v;
    }
}
