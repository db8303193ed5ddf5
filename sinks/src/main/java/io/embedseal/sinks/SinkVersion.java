package io.embedseal.sinks;

/** The plugin's version, from the jar manifest (unknown when run from classes, as in tests). */
public final class SinkVersion {

    private SinkVersion() {}

    public static String get() {
        String v = SinkVersion.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-dev" : v;
    }
}
