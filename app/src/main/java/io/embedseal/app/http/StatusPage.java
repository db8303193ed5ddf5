package io.embedseal.app.http;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;

/** The status page: one self-contained HTML document that reloads itself every 5 seconds. */
final class StatusPage {

    private StatusPage() {}

    static String render(StatusModel.Snapshot s) {
        StringBuilder b = new StringBuilder(16_384);
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"refresh\" content=\"5\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>embedseal · ")
                .append(esc(s.applicationId()))
                .append("</title><style>")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}")
                .append("h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:24px 0 8px}")
                .append(".sub{color:#5b6474;margin-bottom:16px}")
                .append(".cards{display:flex;gap:12px;flex-wrap:wrap}")
                .append(
                        ".card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 14px;min-width:150px}")
                .append(".card b{display:block;font-size:20px}")
                .append("table{border-collapse:collapse;background:#fff;border:1px solid #dde1e7;min-width:60%}")
                .append("th,td{padding:6px 10px;border-bottom:1px solid #eef0f3;text-align:left}th{background:#eef0f3}")
                .append("td.n{text-align:right;font-variant-numeric:tabular-nums}")
                .append(".state{padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600}")
                .append(".ACTIVE{background:#d9f2e3;color:#11653a}.REVOKED{background:#fde9c8;color:#8a4b00}")
                .append(".DESTROYED{background:#f9d7d7;color:#8d1c1c}.HEALTHY,.RUNNING,.UP{color:#11653a}")
                .append(".DEGRADED,.DOWN,.ERROR,.REBALANCING{color:#8a4b00}")
                .append("</style></head><body>\n");
        b.append("<h1>embedseal pipeline <code>").append(esc(s.applicationId())).append("</code></h1>");
        b.append("<div class=\"sub\">")
                .append(esc(s.time().toString()))
                .append(" · refreshes every 5 s · ")
                .append(
                        "<a href=\"/metrics\">metrics</a> · <a href=\"/health/ready\">ready</a> · <a href=\"/status.json\">json</a></div>\n");

        b.append("<div class=\"cards\">");
        card(
                b,
                "Streams",
                "<span class=\"" + esc(s.streamsState()) + "\">" + esc(s.streamsState()) + "</span>",
                "id=\"streams-state\"");
        card(b, "Health", "<span class=\"" + esc(s.health()) + "\">" + esc(s.health()) + "</span>", "id=\"health\"");
        card(
                b,
                "KMS (" + esc(s.kms()) + ")",
                s.kmsAnswers() ? "<span class=\"UP\">answers</span>" : "<span class=\"DOWN\">unreachable</span>",
                "id=\"kms\"");
        card(b, "Sealed", String.format(Locale.ROOT, "%,d", s.sealedTotal()), "id=\"sealed-total\"");
        card(b, "Throughput", String.format(Locale.ROOT, "%,.1f /s", s.sealedPerSecond()), "id=\"throughput\"");
        long dlq = s.deadLettersByReason().values().stream()
                .mapToLong(Long::longValue)
                .sum();
        card(b, "Dead letters", String.format(Locale.ROOT, "%,d", dlq), "id=\"dlq-total\"");
        card(b, "Raw topic lag", s.rawLag() < 0 ? "n/a" : String.format(Locale.ROOT, "%,d", s.rawLag()), "id=\"lag\"");
        b.append("</div>\n");

        if (!s.problems().isEmpty()) {
            b.append("<h2>Problems</h2><table id=\"problems\"><tr><th>dependency</th><th>since</th></tr>");
            s.problems()
                    .forEach((what, since) -> b.append("<tr><td>")
                            .append(esc(what))
                            .append("</td><td>")
                            .append(esc(ago(since, s.time())))
                            .append("</td></tr>"));
            b.append("</table>\n");
        }

        b.append("<h2>Tenants</h2><div class=\"sub\">");
        s.tenantsByState()
                .forEach((state, n) -> b.append("<span class=\"state ")
                        .append(esc(state))
                        .append("\">")
                        .append(esc(state))
                        .append(' ')
                        .append(n)
                        .append("</span> "));
        b.append("</div><table id=\"tenants\"><tr><th>tenant</th><th>state</th><th>key</th><th>since</th>")
                .append("<th>sealed</th><th>sealed/min</th><th>dead letters</th></tr>\n");
        for (StatusModel.TenantRow t : s.tenants()) {
            b.append("<tr data-tenant=\"")
                    .append(esc(t.tenant()))
                    .append("\"><td>")
                    .append(esc(t.tenant()))
                    .append("</td><td><span class=\"state ")
                    .append(esc(t.state()))
                    .append("\">")
                    .append(esc(t.state()))
                    .append("</span></td><td><code>")
                    .append(esc(t.kms()))
                    .append(" v")
                    .append(t.kekVersion())
                    .append("</code></td><td>")
                    .append(esc(t.since() == null ? "" : ago(t.since(), s.time())))
                    .append("</td><td class=\"n\">")
                    .append(String.format(Locale.ROOT, "%,d", t.sealed()))
                    .append("</td><td class=\"n\">")
                    .append(String.format(Locale.ROOT, "%,.0f", t.sealedPerMinute()))
                    .append("</td><td>")
                    .append(t.deadLettered() == 0 ? "0" : esc(reasons(t.deadLetteredByReason())))
                    .append("</td></tr>\n");
        }
        b.append("</table>");
        StatusModel.OtherTenants others = s.otherTenants();
        if (others.count() > 0) {
            b.append("<div class=\"sub\" id=\"other-tenants\">")
                    .append(String.format(Locale.ROOT, "%,d", others.count()))
                    .append(" more tenants, not listed: ")
                    .append(String.format(Locale.ROOT, "%,d", others.sealed()))
                    .append(" sealed, ")
                    .append(String.format(Locale.ROOT, "%,.0f", others.sealedPerMinute()))
                    .append("/min, ")
                    .append(String.format(Locale.ROOT, "%,d", others.deadLettered()))
                    .append(" dead letters (<code>embedseal tenants list</code> lists every tenant)</div>");
        }

        b.append("\n<h2>Dead letters by reason</h2><table id=\"dlq\"><tr><th>reason</th><th>records</th></tr>");
        if (s.deadLettersByReason().isEmpty()) {
            b.append("<tr><td colspan=\"2\">none</td></tr>");
        }
        s.deadLettersByReason()
                .forEach((r, n) -> b.append("<tr><td>")
                        .append(esc(r))
                        .append("</td><td class=\"n\">")
                        .append(String.format(Locale.ROOT, "%,d", n))
                        .append("</td></tr>"));
        b.append("</table>\n</body></html>\n");
        return b.toString();
    }

    private static void card(StringBuilder b, String label, String valueHtml, String attrs) {
        b.append("<div class=\"card\" ")
                .append(attrs)
                .append(">")
                .append(label)
                .append("<b>")
                .append(valueHtml)
                .append("</b></div>");
    }

    private static String reasons(Map<String, Long> byReason) {
        StringBuilder b = new StringBuilder();
        byReason.forEach((r, n) ->
                b.append(b.length() == 0 ? "" : ", ").append(r).append(' ').append(n));
        return b.toString();
    }

    private static String ago(Instant then, Instant now) {
        Duration d = Duration.between(then, now);
        if (d.isNegative() || d.toSeconds() < 60) {
            return Math.max(0, d.toSeconds()) + " s ago";
        }
        if (d.toMinutes() < 120) {
            return d.toMinutes() + " min ago";
        }
        return d.toHours() + " h ago";
    }

    /** HTML-escapes text (tenant ids are restricted, but nothing shown here is trusted). */
    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
