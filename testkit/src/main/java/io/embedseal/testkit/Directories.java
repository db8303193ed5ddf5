package io.embedseal.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Small file-system helpers for temporary directories. */
public final class Directories {

    private Directories() {}

    /** Deletes a directory tree, best effort: what cannot be deleted is left behind silently. */
    public static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a file held open elsewhere stays until the OS cleans the temp dir
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // best effort, as above
        }
    }
}
