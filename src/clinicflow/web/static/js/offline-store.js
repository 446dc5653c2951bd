// Reading offline (issue 19): the last-seen state of the pages a person needs when the
// network drops, kept on this device and shown by the offline shell when a reload finds no
// network, with "offline since 10:42" (the clinic's clock, the page's language).
//
// - A page opts in by marking the part to keep with `data-offline-read` (its whole <main>
//   through base.html's `main_attributes` block, or one element of it): the waiting room,
//   the doctor's and the desk's queues, appointments, notifications, the patient's home.
//   Its drawn state (as the live scripts left it, without forms, buttons or scripts) is kept
//   in IndexedDB, keyed by the signed-in person and the address, whenever it changes.
// - Pages themselves are never in Cache Storage: the service worker answers an offline
//   navigation with the shell drawn for nobody (/offline), and this module fills it with the
//   kept state of that address, only for the person this device last saw signed in.
// - The device holds at most one person's data: a page for someone else empties the store
//   first, a page for a signed-out browser empties it, and so does signing out.
//   `clearOfflineData()` is the one cleanup: every IndexedDB database whose name starts with
//   "clinicflow" (this store, the desk's outbox) and every cache but the static files'.
import { clinicTime } from "moments";

const DB_NAME = "clinicflow-read";
const STORE = "views";
const OWNER = "@owner";
const PREFIX = "clinicflow";
// Databases named here are removed even where the browser cannot list its databases.
const KNOWN_DATABASES = [DB_NAME, "clinicflow-outbox"];
// What a kept view may never carry: it is only read, and nothing in it may run or post.
const DROPPED =
  "script, template, form, button, input, select, textarea, dialog, iframe, object, embed, [data-connection], [data-offline-skip], a[href='#']";
const SAVE_AFTER_MS = 500;

// Once this page has emptied the device (signing out), it keeps nothing more.
let keeping = true;

export async function clearOfflineData() {
  keeping = false;
  const listed = indexedDB.databases ? (await indexedDB.databases()).map((db) => db.name) : [];
  const names = new Set([...KNOWN_DATABASES, ...listed].filter((name) => name?.startsWith(PREFIX)));
  await Promise.all([...names].map(deleteDatabase));
  if ("caches" in window) {
    const kept = await caches.keys();
    await Promise.all(kept.filter((name) => !holdsStaticOnly(name)).map((name) => caches.delete(name)));
  }
}

// The service worker's caches hold the static files and the shell drawn for nobody; any other
// cache may hold someone's data, so it goes.
function holdsStaticOnly(name) {
  return name.startsWith("workbox-precache") || name === "clinicflow-static";
}

function deleteDatabase(name) {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = () => resolve();
    // Another tab still has it open: the deletion completes when that tab lets go of it
    // (it is queued by the browser), so signing out does not wait for it.
    request.onblocked = () => resolve();
  });
}

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// One connection per operation, closed at once, so `clearOfflineData` is never blocked by us.
async function use(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const answer = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(answer.result);
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

const read = (key) => use("readonly", (store) => store.get(key));
const write = (key, value) => use("readwrite", (store) => store.put(value, key));

function addressKey(owner) {
  return `${owner}|${location.pathname}${location.search}`;
}

function cleaned(root) {
  const copy = root.cloneNode(true);
  copy.querySelectorAll(DROPPED).forEach((element) => element.remove());
  for (const element of [copy, ...copy.querySelectorAll("*")]) {
    for (const { name } of [...element.attributes]) {
      // Inline styles (set by scripts) would break the CSP when drawn again; htmx and
      // aria-busy belong to the live page.
      if (name === "style" || /^(data-)?hx-/.test(name) || name === "aria-busy") {
        element.removeAttribute(name);
      }
    }
  }
  // A kept <main> is drawn inside the shell's own <main>: only its content.
  return copy.tagName === "MAIN" ? copy.innerHTML : copy.outerHTML;
}

async function keep(meta) {
  const owner = meta.content;
  const previous = await read(OWNER);
  if (previous !== owner) {
    // Someone else signed in here without signing out first: their data goes.
    if (previous !== undefined) await clearOfflineData();
    keeping = true;
    await write(OWNER, owner);
  }
  const main = document.querySelector("main");
  if (!main || !document.querySelector("[data-offline-read]")) return;
  const label = meta.dataset.since;
  let timer = null;
  let saving = Promise.resolve();

  const save = () => {
    timer = null;
    const root = document.querySelector("[data-offline-read]");
    // Without a network the page shows what it could not refresh: the kept state stays.
    if (!root || !navigator.onLine || !keeping) return;
    const savedAt = new Date();
    const view = {
      html: cleaned(root),
      title: document.querySelector("main h1")?.textContent.trim() || document.title,
      lang: document.documentElement.lang,
      savedAt: savedAt.toISOString(),
      since: label.replace("{time}", clinicTime(savedAt)),
    };
    saving = saving
      .then(() => write(addressKey(owner), view))
      .then(() => {
        document.documentElement.dataset.offlineKept = view.savedAt;
      })
      .catch(() => {
        // Storage full or refused (a private window): the page itself works as before.
      });
  };
  const later = () => {
    if (timer === null) timer = setTimeout(save, SAVE_AFTER_MS);
  };

  // The first copy is taken once the page's own scripts (modules after this one) have drawn.
  later();
  new MutationObserver(later).observe(main, { subtree: true, childList: true, characterData: true, attributes: true });
  // The state shown was the server's until the network dropped: that is "offline since".
  window.addEventListener("offline", async () => {
    const view = keeping && (await read(addressKey(owner)));
    if (!view || !keeping) return;
    const now = new Date();
    await write(addressKey(owner), { ...view, savedAt: now.toISOString(), since: label.replace("{time}", clinicTime(now)) });
  });
}

async function show(shell) {
  const owner = await read(OWNER);
  const view = owner && (await read(addressKey(owner)));
  if (!view) return;
  const parsed = document.createElement("template");
  parsed.innerHTML = view.html;
  parsed.content.querySelectorAll(DROPPED).forEach((element) => element.remove());
  const heading = document.createElement("h1");
  heading.textContent = view.title;
  const since = document.createElement("p");
  since.className = "offline-since";
  since.setAttribute("role", "status");
  since.dataset.testid = "offline-since";
  since.textContent = view.since;
  const kept = document.createElement("div");
  kept.className = "offline-kept";
  kept.dataset.testid = "offline-kept";
  kept.append(parsed.content);
  const title = kept.querySelector("h1");
  if (title) {
    shell.replaceChildren(kept);
    title.after(since);
  } else {
    shell.replaceChildren(heading, since, kept);
  }
  shell.classList.remove("narrow");
  document.documentElement.lang = view.lang;
  document.title = `${view.title} · clinicflow`;
}

// Signing out empties the device before the request leaves. A page that first asks the
// person (pending offline actions) prevents the submit itself, then calls
// `clearOfflineData()` and submits when they agree.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-sign-out]");
  if (!form || event.defaultPrevented) return;
  event.preventDefault();
  clearOfflineData().finally(() => form.submit());
});

const shell = document.querySelector("[data-offline-shell]");
const owner = document.querySelector('meta[name="offline-owner"]');
if (!("indexedDB" in window)) {
  // Nothing can be kept on this device; every page works online as before.
} else if (shell) {
  show(shell);
} else if (owner) {
  keep(owner);
} else if (document.querySelector('meta[name="offline-data"][content="clear"]')) {
  clearOfflineData();
}
