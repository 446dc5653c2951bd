// Times written in the browser, on the clinic's clock: the same words as the server's
// `moment` filter (core/moments.py), whatever zone the phone is set to. base.html puts the
// clinic's zone in <meta name="clinic-zone"> and the page's language on <html lang>; the
// clock is 24-hour in every language, as on the server.
export const clinicZone = document.querySelector('meta[name="clinic-zone"]')?.content || undefined;

// "00:05": a moment's time of day on the clinic's clock, in the page's language.
export const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: clinicZone,
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

export function clinicTime(moment) {
  return timeFormat.format(moment instanceof Date ? moment : new Date(moment));
}
