package io.embedseal.keyring;

import java.util.regex.Pattern;

/**
 * What a tenant id may look like: 1 to 64 characters from {@code A-Z a-z 0-9 . _ -}, starting with a letter
 * or digit. The rule keeps ids safe inside key names, file names, envelope headers and metric labels.
 */
public final class TenantIds {

    /** Longest tenant id accepted. */
    public static final int MAX_LENGTH = 64;

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0," + (MAX_LENGTH - 1) + "}");

    private TenantIds() {}

    public static boolean isValid(String tenantId) {
        // The rule of VALID, by hand: it runs for every record (TenantIdsTest checks both agree).
        if (tenantId == null || tenantId.isEmpty() || tenantId.length() > MAX_LENGTH) {
            return false;
        }
        for (int i = 0; i < tenantId.length(); i++) {
            char c = tenantId.charAt(i);
            boolean alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
                return false;
            }
        }
        return true;
    }

    /** The rule as a regular expression (documentation, and the reference the hand-written check is tested against). */
    public static boolean matchesPattern(String tenantId) {
        return tenantId != null && VALID.matcher(tenantId).matches();
    }

    /**
     * @throws IllegalArgumentException naming the rule, if the id breaks it
     */
    public static String requireValid(String tenantId) {
        if (!isValid(tenantId)) {
            throw new IllegalArgumentException(describeRule());
        }
        return tenantId;
    }

    /** The rule in words, for error messages. */
    public static String describeRule() {
        return "tenant id must be 1-" + MAX_LENGTH + " characters of A-Z a-z 0-9 . _ - starting with a letter or digit";
    }
}
