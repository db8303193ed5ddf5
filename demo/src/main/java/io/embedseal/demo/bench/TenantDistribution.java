package io.embedseal.demo.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Which tenant each generated record belongs to: {@code uniform} (round-robin: every tenant in turn, the worst case for
 * any per-tenant cache) or {@code zipf:s} (tenant of rank k with probability proportional to 1/k^s, drawn from a seeded
 * generator, so every run and every topology sees the same sequence; tenant 0 is the busiest). Many tenants with a few
 * busy ones is what a multi-tenant service usually sees.
 *
 * @param exponent 0 for uniform, else Zipf's s (greater than 0)
 */
public record TenantDistribution(String name, double exponent) {

    public static final TenantDistribution UNIFORM = new TenantDistribution("uniform", 0);

    public TenantDistribution {
        if (!(name.equals("uniform") && exponent == 0) && !(name.equals("zipf") && exponent > 0 && exponent <= 10)) {
            throw new IllegalArgumentException("a tenant distribution is uniform or zipf:s with 0 < s <= 10");
        }
    }

    /**
     * Reads {@code uniform}, {@code zipf} (s = 1.1) or {@code zipf:s}.
     *
     * @throws IllegalArgumentException naming the forms it takes
     */
    public static TenantDistribution parse(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("uniform")) {
            return UNIFORM;
        }
        if (v.equals("zipf")) {
            return new TenantDistribution("zipf", 1.1);
        }
        if (v.startsWith("zipf:")) {
            try {
                return new TenantDistribution("zipf", Double.parseDouble(v.substring(5)));
            } catch (NumberFormatException e) {
                // below
            }
        }
        throw new IllegalArgumentException(
                "--distribution takes uniform, zipf (s = 1.1) or zipf:s with 0 < s <= 10; got " + s);
    }

    /**
     * The tenant index (0 to {@code tenants} − 1) of each of {@code records} records, the same for the same arguments.
     */
    public int[] sequence(int tenants, int records, long seed) {
        int[] out = new int[records];
        if (exponent == 0) {
            for (int i = 0; i < records; i++) {
                out[i] = i % tenants;
            }
            return out;
        }
        double[] cdf = new double[tenants];
        double sum = 0;
        for (int k = 0; k < tenants; k++) {
            sum += Math.pow(k + 1, -exponent);
            cdf[k] = sum;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < records; i++) {
            double u = random.nextDouble() * sum;
            int at = Arrays.binarySearch(cdf, u);
            out[i] = Math.min(tenants - 1, at >= 0 ? at : -at - 1);
        }
        return out;
    }

    /**
     * The KMS calls a sealing instance with a cache that holds every tenant makes for a sequence: one wrap per DEK, a
     * DEK per tenant that has records plus one per {@code dekMaxRecords} of its records after the first.
     */
    static long kmsBound(int[] sequence, int tenants, long dekMaxRecords) {
        long[] counts = new long[tenants];
        for (int t : sequence) {
            counts[t]++;
        }
        long bound = 0;
        for (long c : counts) {
            if (c > 0) {
                bound += 1 + (c - 1) / dekMaxRecords;
            }
        }
        return bound;
    }

    /** Tenants with at least one record in the sequence. */
    static int distinct(int[] sequence, int tenants) {
        boolean[] seen = new boolean[tenants];
        int n = 0;
        for (int t : sequence) {
            if (!seen[t]) {
                seen[t] = true;
                n++;
            }
        }
        return n;
    }

    @Override
    public String toString() {
        return exponent == 0 ? name : name + ":" + exponent;
    }
}
