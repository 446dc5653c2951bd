// The copy on the device (issue 19): what the signed-in person may see, kept in IndexedDB
// from the sync feed (/api/sync/changes), shown by the offline shell when a page is asked
// for without network, and wiped at sign-out or whenever a page is drawn for nobody.
//
// The copy belongs to one person: it records whose it is, and a page for someone else
// wipes it before keeping theirs. Pages are never cached (sw.js); only this copy is kept.
const DB_NAME = "clinicflow-offline";
const PULL_EVERY_MS = 60_000;
const PULL_AT_MOST_EVERY_MS = 10_000;

const me = document.querySelector('meta[name="cf-user"]')?.content || null;
const shell = document.querySelector("[data-offline-shell]");

let opened = null;
let signingOut = false;

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

function db() {
  if (!opened) {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("items");
      req.result.createObjectStore("meta");
    };
    opened = request(req).then((database) => {
      // Another tab deleting the copy (a sign-out) must not wait on this one.
      database.onversionchange = () => {
        database.close();
        opened = null;
      };
      return database;
    });
  }
  return opened;
}

async function read(store, key) {
  const database = await db();
  return request(database.transaction(store).objectStore(store).get(key));
}

async function readAll(store) {
  const database = await db();
  return request(database.transaction(store).objectStore(store).getAll());
}

function done(tx) {
  return new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = () => fail(tx.error);
    tx.onabort = () => fail(tx.error);
  });
}

// Remove the whole copy: every store emptied in one transaction (ordered with any other
// tab's writes, unlike deleting the database), and every cache but the app's own files.
export async function wipe() {
  const database = await db();
  const tx = database.transaction(["items", "meta"], "readwrite");
  for (const store of ["items", "meta"]) tx.objectStore(store).clear();
  await done(tx);
  if ("caches" in self) {
    const names = await caches.keys();
    // The precache holds this version's static files and the shell drawn for nobody.
    await Promise.all(names.filter((n) => !n.includes("precache")).map((n) => caches.delete(n)));
  }
}

let lastPull = 0;

export async function pull({ force = false } = {}) {
  if (!me || !navigator.onLine) return;
  if (!force && Date.now() - lastPull < PULL_AT_MOST_EVERY_MS) return;
  lastPull = Date.now();
  // Someone else's copy goes before this person's is kept. (An empty copy has no owner:
  // it is not wiped, as another tab of this person may be writing it at this moment.)
  const owner = await read("meta", "user");
  if (owner !== undefined && owner !== me) {
    await wipe();
  }
  let cursor = await read("meta", "cursor");
  for (;;) {
    const query = cursor ? `?since=${encodeURIComponent(cursor)}` : "";
    const response = await fetch(`/api/sync/changes${query}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 410) {
      // The server forgot this copy's cursor: start again from nothing.
      await wipe();
      cursor = null;
      continue;
    }
    if (!response.ok) return;
    const body = await response.json();
    // A sign-out under way has the last word: nothing is kept after it.
    if (signingOut) return;
    const database = await db();
    const tx = database.transaction(["items", "meta"], "readwrite");
    const items = tx.objectStore("items");
    for (const change of body.changes) {
      const key = `${change.type}:${change.id}`;
      if (change.op === "delete") items.delete(key);
      else items.put({ type: change.type, id: change.id, version: change.version, data: change.data }, key);
    }
    const meta = tx.objectStore("meta");
    meta.put(me, "user");
    meta.put(body.cursor, "cursor");
    meta.put(Date.now(), "synced_at");
    await done(tx);
    cursor = body.cursor;
    if (!body.more) break;
  }
  document.dispatchEvent(new CustomEvent("clinicflow:synced"));
}

// --- The offline shell -------------------------------------------------------------------

function text(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function element(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== undefined) node.textContent = content;
  return node;
}

function viewsFor(path) {
  if (path.startsWith("/queue")) return ["places"];
  if (path.startsWith("/doctor/queue") || path.startsWith("/desk/queue")) return ["queues"];
  if (path.startsWith("/appointments")) return ["appointments"];
  if (path.startsWith("/notifications")) return ["notifications"];
  return ["places", "queues", "appointments", "notifications"];
}

async function showCopy(root) {
  const since = await read("meta", "synced_at").catch(() => undefined);
  if (!since) return;
  const lang = document.documentElement.lang || "en";
  const zone = root.dataset.zone || undefined;
  const clock = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = new Intl.DateTimeFormat(lang, {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const labels = JSON.parse(root.dataset.labels || "{}");
  const t = root.dataset;
  const byType = { appointment: [], queue: [], queue_entry: [], notification: [] };
  for (const item of await readAll("items")) byType[item.type]?.push(item.data);

  const sinceNode = root.querySelector("[data-offline-since]");
  sinceNode.textContent = text(t.sinceText, { time: clock.format(new Date(since)) });
  sinceNode.hidden = false;
  root.querySelector("[data-offline-empty]").hidden = true;
  root.querySelector("[data-offline-kept]").hidden = false;

  const render = {
    places(list) {
      for (const place of byType.queue_entry) {
        const li = element("li", "offline-place");
        li.append(element("strong", "offline-token", text(t.tokenText, { token: place.token })));
        li.append(element("span", null, place.doctor_name));
        li.append(element("span", null, labels[place.status] || place.status));
        li.append(element("span", null, text(t.servingText, { token: place.serving_token ?? "–" })));
        if (place.position != null) li.append(element("span", null, text(t.positionText, { position: place.position })));
        if (place.estimated_wait_minutes != null) {
          li.append(element("span", null, text(t.waitText, { minutes: place.estimated_wait_minutes })));
        }
        list.append(li);
      }
      return byType.queue_entry.length;
    },
    queues(list) {
      for (const queue of byType.queue) {
        const box = element("section", "offline-queue");
        box.append(element("h3", null, queue.doctor_name));
        box.append(element("p", null, `${text(t.servingText, { token: queue.serving_token ?? "–" })} · ${text(t.waitingText, { count: queue.waiting_count })}`));
        const ul = element("ul", "offline-list");
        for (const entry of queue.entries) {
          const li = element("li");
          li.append(element("strong", null, text(t.tokenText, { token: entry.token })));
          li.append(element("span", null, entry.patient_name || ""));
          li.append(element("span", null, labels[entry.status] || entry.status));
          ul.append(li);
        }
        box.append(ul);
        list.append(box);
      }
      return byType.queue.length;
    },
    appointments(list) {
      const sorted = [...byType.appointment].sort((a, b) => a.starts_at.localeCompare(b.starts_at));
      for (const appointment of sorted) {
        const li = element("li");
        li.append(element("strong", null, day.format(new Date(appointment.starts_at))));
        li.append(element("span", null, appointment.doctor_name || ""));
        li.append(element("span", null, labels[appointment.status] || appointment.status));
        list.append(li);
      }
      return sorted.length;
    },
    notifications(list) {
      for (const notification of byType.notification) {
        const li = element("li");
        li.append(element("strong", null, notification.title));
        li.append(element("span", null, notification.body));
        list.append(li);
      }
      return byType.notification.length;
    },
  };
  for (const view of viewsFor(location.pathname)) {
    const section = root.querySelector(`[data-view="${view}"]`);
    const list = section.querySelector("[data-list]");
    list.replaceChildren();
    section.hidden = render[view](list) === 0;
  }
}

// --- Wiring ------------------------------------------------------------------------------

if (shell) {
  showCopy(shell);
} else if (me) {
  pull();
  setInterval(() => pull(), PULL_EVERY_MS);
  window.addEventListener("online", () => pull({ force: true }));
  // Signing out removes the copy first, then goes on with the sign-out.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
    if (form.dataset.wiped) return;
    event.preventDefault();
    signingOut = true;
    const go = () => {
      form.dataset.wiped = "1";
      form.submit();
    };
    Promise.race([wipe(), new Promise((ok) => setTimeout(ok, 3000))]).then(go, go);
  });
} else {
  // A page drawn for nobody: a signed-out browser keeps no one's data.
  wipe();
}
