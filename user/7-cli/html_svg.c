/* Inline SVG for the HTML report: aggregated numbers in, <svg> out.
 *
 * Why SVG written here rather than a charting library from npm: the
 * report needs three shapes (stacked bars over time, a ratio line, a
 * timeline of bars), which take less code than the glue a library wants,
 * and inline SVG draws with scripting off, adds no build step or vendored
 * file, keeps the report a few tens of KB, and gives the browser test
 * plain elements to count. Legends are HTML next to the chart, so names
 * are selectable text. */
#include <math.h>
#include <string.h>
#include <time.h>
#include "html_svg.h"

#define W	760	/* chart width and height, in SVG units */
#define H	220
#define ML	64	/* margins: left for the axis labels */
#define MR	12
#define MT	10
#define MB	28

static const char *const palette[SVG_MAX_SERIES] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948",
	"#76b7b2", "#ff9da7", "#9c755f", "#bab0ac",
};

const char *svg_colour(int i)
{
	if (i < 0)
		return "#888";
	return palette[i % SVG_MAX_SERIES];
}

void html_text(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p; p++) {
		switch (*p) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			/* bytes >= 0x80 pass: the page is UTF-8 and a bad
			 * sequence shows as U+FFFD, it cannot open markup */
			fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
		}
	}
}

/* 1, 2 or 5 x 10^k at or above v: round axis maxima (a loop, not
 * log10(): the CLI does not link libm for this). */
static double nice_max(double v)
{
	double e = 1e-9;

	if (!(v > 0) || v > 1e15)
		return v > 1e15 ? v : 1;
	while (e * 10 <= v)
		e *= 10;
	while (e > v)
		e /= 10;
	return (v <= e ? 1 : v <= 2 * e ? 2 : v <= 5 * e ? 5 : 10) * e;
}

static void axis_value(FILE *out, double v, const char *unit)
{
	if (unit && unit[0] == '$')
		fprintf(out, v >= 100 ? "$%.0f" : v >= 1 ? "$%.2f" : "$%.4f", v);
	else if (v >= 1e6)
		fprintf(out, "%.1fM", v / 1e6);
	else if (v >= 1e3)
		fprintf(out, "%.1fk", v / 1e3);
	else
		fprintf(out, "%.0f", v);
}

static void time_label(FILE *out, int64_t t_s, int64_t width_s)
{
	char buf[32];
	time_t t = (time_t)t_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), width_s >= 86400 ? "%m-%d" : "%m-%d %H:%M", &tm);
	fputs(buf, out);
}

/* Frame, horizontal grid with labels, and time labels at both ends and
 * the middle (UTC). */
static void frame(FILE *out, double ymax, const char *unit, int nbuckets, int64_t t0_s,
		  int64_t width_s)
{
	int k, idx[3] = { 0, nbuckets / 2, nbuckets - 1 };
	double bw = (double)(W - ML - MR) / (nbuckets ? nbuckets : 1);

	for (k = 0; k <= 2; k++) {
		double y = MT + (H - MT - MB) * (1 - k / 2.0);

		fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">",
			ML, W - MR, y, y, ML - 6, y + 4);
		axis_value(out, ymax * k / 2, unit);
		fputs("</text>", out);
	}
	for (k = 0; k < 3 && nbuckets > 0; k++) {
		if (k && idx[k] == idx[k - 1])
			continue;
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"ax\" text-anchor=\"%s\">",
			ML + bw * idx[k] + (k == 2 ? bw : 0), H - 8,
			k == 0 ? "start" : k == 1 ? "middle" : "end");
		time_label(out, t0_s + (int64_t)idx[k] * width_s, width_s);
		fputs("</text>", out);
	}
}

/* "other" is always the palette's grey, whatever its index. */
static const char *series_colour(const struct svg_stack *c, int s)
{
	return c->names[s] && !strcmp(c->names[s], "other") ? palette[SVG_MAX_SERIES - 1] :
	       svg_colour(s);
}

void svg_stacked_bars(FILE *out, const struct svg_stack *c)
{
	double top = 0, bw, ymax;
	int s, b;

	for (b = 0; b < c->nbuckets; b++) {
		double sum = 0;

		for (s = 0; s < c->nseries; s++)
			sum += c->v[s][b] > 0 ? c->v[s][b] : 0;
		if (sum > top)
			top = sum;
	}
	ymax = nice_max(top);
	bw = (double)(W - ML - MR) / (c->nbuckets ? c->nbuckets : 1);
	fprintf(out, "<figure class=\"chart\"><svg id=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\">",
		c->id, W, H);
	frame(out, ymax, c->unit, c->nbuckets, c->t0_s, c->width_s);
	for (b = 0; b < c->nbuckets; b++) {
		double y = H - MB;

		for (s = 0; s < c->nseries; s++) {
			double v = c->v[s][b] > 0 ? c->v[s][b] : 0;
			double h = (H - MT - MB) * v / ymax;

			if (h <= 0)
				continue;
			y -= h;
			fprintf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"%s\"><title>", ML + bw * b + 1, y,
				bw > 3 ? bw - 2 : bw, h, series_colour(c, s));
			html_text(out, c->names[s]);
			fputs(": ", out);
			axis_value(out, v, c->unit);
			fputs("</title></rect>", out);
		}
	}
	fputs("</svg><figcaption class=\"legend\">", out);
	for (s = 0; s < c->nseries; s++) {
		fprintf(out, "<span class=\"key\"><i style=\"background:%s\"></i>",
			series_colour(c, s));
		html_text(out, c->names[s]);
		fputs("</span>", out);
	}
	fputs("</figcaption></figure>\n", out);
}

void svg_ratio_line(FILE *out, const char *id, const double *v, int nbuckets,
		    int64_t t0_s, int64_t width_s)
{
	double bw = (double)(W - ML - MR) / (nbuckets ? nbuckets : 1);
	int b, pen = 0;

	fprintf(out, "<figure class=\"chart\"><svg id=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\">",
		id, W, H);
	frame(out, 100, "", nbuckets, t0_s, width_s);
	fprintf(out, "<path class=\"line\" fill=\"none\" stroke=\"%s\" d=\"", svg_colour(0));
	for (b = 0; b < nbuckets; b++) {
		if (isnan(v[b])) {
			pen = 0;
			continue;
		}
		fprintf(out, "%c%.1f %.1f ", pen ? 'L' : 'M', ML + bw * (b + 0.5),
			MT + (H - MT - MB) * (1 - v[b]));
		pen = 1;
	}
	fputs("\"/>", out);
	for (b = 0; b < nbuckets; b++)
		if (!isnan(v[b]))
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\">"
				"<title>%.1f%%</title></circle>", ML + bw * (b + 0.5),
				MT + (H - MT - MB) * (1 - v[b]), svg_colour(0), v[b] * 100);
	fputs("</svg><figcaption class=\"legend\"><span class=\"key\"><i style=\"background:",
	      out);
	fprintf(out, "%s\"></i>cache hit rate (cached / input tokens), %%</span></figcaption>"
		"</figure>\n", svg_colour(0));
}

#define LANE_H	22

void svg_timeline_lane(FILE *out, const char *label, const struct svg_bar *bars, int n,
		       double span_s)
{
	double scale = (W - ML - MR) / (span_s > 0 ? span_s : 1);
	int i;

	fprintf(out, "<div class=\"lane\"><div class=\"lanelabel\">");
	html_text(out, label);
	fprintf(out, "</div><svg class=\"timeline\" viewBox=\"0 0 %d %d\" role=\"img\">"
		"<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"grid\"/>",
		W, LANE_H, ML, W - MR, LANE_H - 2, LANE_H - 2);
	for (i = 0; i < n; i++) {
		const struct svg_bar *b = &bars[i];
		double x = ML + b->start_s * scale, w = (b->end_s - b->start_s) * scale;

		if (w < 2)
			w = 2;	/* a fast call still shows */
		fprintf(out, "<rect class=\"call%s\" x=\"%.1f\" y=\"3\" width=\"%.1f\" height=\"%d\" "
			"fill=\"%s\"><title>", b->error ? " err" : "", x, w, LANE_H - 8,
			svg_colour(b->series));
		html_text(out, b->title);
		fputs("</title></rect>", out);
		if (b->tools)	/* a tick on top: this call handed work to tools */
			fprintf(out, "<rect class=\"toolmark\" x=\"%.1f\" y=\"0\" width=\"%.1f\" "
				"height=\"3\" fill=\"#333\"/>", x, w);
	}
	fputs("</svg></div>\n", out);
}
