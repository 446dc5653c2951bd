// The analytics page's charts, drawn with the vendored uPlot from the numbers the server
// put in #analytics-data; the tables under each chart hold the same numbers for anyone who
// cannot see the chart.
import uPlot from "uplot";

const data = JSON.parse(document.getElementById("analytics-data")?.textContent || "{}");
const buckets = data.buckets || [];
const visits = document.querySelector('[data-chart="visits"]');
const labels = JSON.parse(visits?.dataset.labels || "{}");

// A bucket's start is a day of the clinic's calendar (the server counted it in the clinic's
// zone), not a moment: it is placed at that date's UTC midnight and read back in UTC, so no
// zone, the phone's or the clinic's, can move it to the day before. Its words are the
// page's language ("6 Des"), short enough for a phone's width.
const dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: "UTC",
  day: "numeric",
  month: "short",
});

function days(list) {
  return list.map((b) => Date.parse(`${b.start}T00:00:00Z`) / 1000);
}

function draw(element, series, values) {
  if (!element || buckets.length === 0) return;
  const width = Math.max(280, element.clientWidth || 320);
  const xs = days(buckets);
  const options = {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    // uPlot spreads a lone point over 1000 days: give one bucket a day either side.
    scales: { x: { time: true, range: (u, min, max) => (xs.length === 1 ? [xs[0] - 86400, xs[0] + 86400] : [min, max]) } },
    series: [{ label: labels.date }, ...series],
    // Whole days only, in the page's language.
    axes: [
      {
        incrs: [86400, 7 * 86400, 28 * 86400, 365 * 86400],
        values: (u, splits) => splits.map((t) => dayFormat.format(new Date(t * 1000))),
      },
      {},
    ],
  };
  const plot = new uPlot(options, [xs, ...values], element);
  new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height: 220 })).observe(element);
}

draw(
  visits,
  [
    { label: labels.visits, stroke: "#1d6fb8", width: 2 },
    { label: labels.completed, stroke: "#2e8540", width: 2 },
    { label: labels.no_shows, stroke: "#b8321d", width: 2 },
  ],
  [buckets.map((b) => b.visits), buckets.map((b) => b.completed), buckets.map((b) => b.no_shows)],
);
draw(
  document.querySelector('[data-chart="wait"]'),
  [{ label: labels.wait, stroke: "#7a4fb8", width: 2 }],
  [buckets.map((b) => b.wait_p50)],
);
