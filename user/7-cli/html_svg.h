/* Inline SVG charts for `llmobs report --html` (html_svg.c): in, small
 * matrices the report's SQL already aggregated; out, <svg> markup with
 * its legend, written to a FILE. No script is needed to draw them. */
#ifndef LLMOBS_HTML_SVG_H
#define LLMOBS_HTML_SVG_H

#include <stdint.h>
#include <stdio.h>

#define SVG_MAX_SERIES	9	/* 8 named and "other" */
#define SVG_MAX_BUCKETS	64

/* Writes s HTML-escaped (text and attribute values); control bytes and
 * invalid UTF-8 become '?': the strings come from observed processes. */
void html_text(FILE *out, const char *s);

/* A stacked bar chart over time: v[series][bucket], bucket i starting at
 * t0_s + i * width_s. unit: "$" (dollars) or "" (counts). */
struct svg_stack {
	const char *id;			/* element id, for tests and links */
	int nseries, nbuckets;
	const char *names[SVG_MAX_SERIES];
	double v[SVG_MAX_SERIES][SVG_MAX_BUCKETS];
	int64_t t0_s, width_s;
	const char *unit;
};

void svg_stacked_bars(FILE *out, const struct svg_stack *c);

/* A line of ratios (0..1) over the same buckets; NaN: no point there. */
void svg_ratio_line(FILE *out, const char *id, const double *v, int nbuckets,
		    int64_t t0_s, int64_t width_s);

/* One lane of the agent timeline: bars from start to end (seconds from
 * the lane's t0), colour by series index, red edge on error. */
struct svg_bar {
	double start_s, end_s;
	int series;		/* index into the lane's legend, -1 none */
	int error;
	int tools;		/* the response asked for tool calls */
	char title[280];	/* tooltip: metadata only, already plain text */
};

void svg_timeline_lane(FILE *out, const char *label, const struct svg_bar *bars, int n,
		       double span_s);

/* The colour of series i (a fixed palette; the last is "other"). */
const char *svg_colour(int i);

#endif
