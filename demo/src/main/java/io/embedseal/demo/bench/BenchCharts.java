package io.embedseal.demo.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws a bench's results as PNG charts (XChart) for docs/performance.md: records/s against the vector's dimensions,
 * and records/s and the stream threads' CPU per record against the number of tenants, each topology a series (the
 * medians of the runs). A chart is drawn only where its axis has at least two points.
 */
final class BenchCharts {

    private BenchCharts() {}

    /**
     * @param label what the run was (Java version, phase, distribution), in each chart's title
     * @return the files written
     */
    static List<Path> write(List<PipelineBench.DimsResult> results, Path dir, String label) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        int firstTenants = results.get(0).tenants();
        List<PipelineBench.DimsResult> byDims =
                results.stream().filter(r -> r.tenants() == firstTenants).toList();
        if (byDims.size() >= 2) {
            XYChart c = chart(
                    "records/s by dimensions (" + firstTenants + " tenants, " + label + ")",
                    "dimensions",
                    "records/s (median)");
            c.getStyler().setXAxisLogarithmic(true);
            series(
                    c,
                    byDims,
                    PipelineBench.DimsResult::dims,
                    List.of(
                            new Line("pass-through", PipelineBench.DimsResult::passThroughMedian),
                            new Line("aes-gcm (floor)", PipelineBench.DimsResult::aesGcmMedian),
                            new Line("sealed", PipelineBench.DimsResult::sealedMedian)));
            written.add(save(c, dir.resolve("bench-dims")));
        }
        int firstDims = results.get(0).dims();
        List<PipelineBench.DimsResult> byTenants =
                results.stream().filter(r -> r.dims() == firstDims).toList();
        if (byTenants.size() >= 2) {
            XYChart rate = chart(
                    "records/s by tenants (" + firstDims + " dims, " + label + ")", "tenants", "records/s (median)");
            rate.getStyler().setXAxisLogarithmic(true);
            series(
                    rate,
                    byTenants,
                    PipelineBench.DimsResult::tenants,
                    List.of(
                            new Line("pass-through", PipelineBench.DimsResult::passThroughMedian),
                            new Line("aes-gcm (floor)", PipelineBench.DimsResult::aesGcmMedian),
                            new Line("sealed", PipelineBench.DimsResult::sealedMedian)));
            written.add(save(rate, dir.resolve("bench-tenants")));
            XYChart cpu = chart(
                    "stream threads' CPU per record by tenants (" + firstDims + " dims, " + label + ")",
                    "tenants",
                    "CPU µs per record (median)");
            cpu.getStyler().setXAxisLogarithmic(true);
            series(
                    cpu,
                    byTenants,
                    PipelineBench.DimsResult::tenants,
                    List.of(
                            new Line("pass-through", PipelineBench.DimsResult::topologyCpuPassThrough),
                            new Line("aes-gcm (floor)", PipelineBench.DimsResult::topologyCpuAesGcm),
                            new Line("sealed", PipelineBench.DimsResult::topologyCpuSealed)));
            written.add(save(cpu, dir.resolve("bench-tenants-cpu")));
        }
        return written;
    }

    private record Line(String name, ToDoubleFunction<PipelineBench.DimsResult> value) {}

    private static XYChart chart(String title, String x, String y) {
        XYChart c = new XYChartBuilder()
                .width(760)
                .height(420)
                .title(title)
                .xAxisTitle(x)
                .yAxisTitle(y)
                .build();
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        c.getStyler().setYAxisMin(0.0);
        c.getStyler().setDecimalPattern("#,###.#");
        c.getStyler().setLocale(Locale.ROOT);
        return c;
    }

    /** One series per line, leaving out a topology that did not run (its medians are 0). */
    private static void series(
            XYChart c,
            List<PipelineBench.DimsResult> points,
            ToDoubleFunction<PipelineBench.DimsResult> x,
            List<Line> lines) {
        for (Line l : lines) {
            double[] xs = points.stream().mapToDouble(x).toArray();
            double[] ys = points.stream().mapToDouble(l.value()).toArray();
            boolean ran = false;
            for (double v : ys) {
                ran |= v > 0;
            }
            if (ran) {
                c.addSeries(l.name(), xs, ys).setMarker(SeriesMarkers.CIRCLE);
            }
        }
    }

    /** PNG: an SVG from XChart draws every glyph as a path (~250 KB a chart); the PNG is a tenth of that. */
    private static Path save(XYChart c, Path withoutSuffix) throws IOException {
        BitmapEncoder.saveBitmap(c, withoutSuffix.toString(), BitmapEncoder.BitmapFormat.PNG);
        return withoutSuffix.resolveSibling(withoutSuffix.getFileName() + ".png");
    }
}
