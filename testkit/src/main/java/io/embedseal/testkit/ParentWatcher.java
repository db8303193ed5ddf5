package io.embedseal.testkit;

import java.io.IOException;

/**
 * For a JVM a test starts as a child process: halts it when the parent's end of its standard input closes (the parent
 * writes nothing; end of input means the parent is gone), so a crashed or killed test JVM leaves no server behind.
 */
final class ParentWatcher {

    private ParentWatcher() {}

    static void start() {
        Thread watcher = new Thread(
                () -> {
                    try {
                        while (System.in.read() >= 0) {
                            // nothing is ever written
                        }
                    } catch (IOException e) {
                        // the same: the parent is gone
                    }
                    Runtime.getRuntime().halt(3);
                },
                "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }
}
