// The chart's prescription forms: the formulary as the doctor types (a datalist filled from
// GET /api/formulary?q=), the chosen medicine's strength and route filled in, rows added
// and removed, "Repeat last prescription", and the safety warning before Issue (POST
// …/prescriptions/check as the rows change). Without this script the form still works: the
// server makes the same check when the prescription is issued.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const MAX_ROWS = 20;
const ROUTES = [
  [/tablet|capsule|oral|powder|granules|sublingual/, "oral"],
  [/injection/, "injection"],
  [/cream|ointment|gel|lotion|solution|patch/, "topical"],
  [/eye/, "eye"],
  [/inhalation|nebuliser/, "inhaled"],
  [/nasal/, "nasal"],
  [/rectal|suppository/, "rectal"],
  [/vaginal|pessary/, "vaginal"],
];

function routeOf(form) {
  const found = ROUTES.find(([pattern]) => pattern.test(form));
  return found ? found[1] : "";
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function rows(form) {
  return [...form.querySelectorAll(".medication-row")];
}

function field(row, name) {
  return row.querySelector(`[name^="${name}_"]`);
}

function setUp(form) {
  const list = document.createElement("datalist");
  list.id = `${form.id}-formulary`;
  form.append(list);
  const choices = new Map();
  const warning = form.querySelector("[data-warning]");
  const checkUrl = form.dataset.checkUrl;

  const check = debounce(async () => {
    const medications = rows(form).map((row) => ({ name: field(row, "name").value }));
    const response = await fetch(checkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ medications }),
    });
    if (!response.ok) return;
    const { conflicts } = await response.json();
    const items = warning.querySelector("ul");
    items.replaceChildren(
      ...conflicts.map((c) => {
        const li = document.createElement("li");
        li.textContent = c.message;
        return li;
      }),
    );
    warning.hidden = conflicts.length === 0;
    form.querySelector("[name=override_reason]").required = conflicts.length > 0;
  }, 250);

  const search = debounce(async (text) => {
    if (text.trim().length < 2) return;
    const response = await fetch(`/api/formulary?q=${encodeURIComponent(text)}`, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    choices.clear();
    list.replaceChildren(
      ...(await response.json()).map((m) => {
        const label = `${m.name} (${m.form})`;
        choices.set(label, m);
        const option = document.createElement("option");
        option.value = label;
        option.textContent = `${m.strengths.join(", ")} · ${m.classes.join(", ")}`;
        return option;
      }),
    );
  }, 150);

  function wire(row) {
    const name = field(row, "name");
    name.setAttribute("list", list.id);
    name.setAttribute("autocomplete", "off");
    name.addEventListener("input", () => {
      const chosen = choices.get(name.value);
      if (chosen) {
        name.value = chosen.name;
        field(row, "strength").value = chosen.strengths[0] || "";
        if (!field(row, "route").value) field(row, "route").value = routeOf(chosen.form);
      } else {
        search(name.value);
      }
      check();
    });
    row.querySelector("[data-remove-row]")?.addEventListener("click", () => {
      if (rows(form).length > 1) row.remove();
      else row.querySelectorAll("input").forEach((input) => (input.value = ""));
      check();
    });
  }

  function addRow() {
    const all = rows(form);
    if (all.length >= MAX_ROWS) return null;
    const last = all[all.length - 1];
    const index = Math.max(...all.map((row) => Number(row.dataset.row))) + 1;
    const row = last.cloneNode(true);
    row.dataset.row = String(index);
    row.querySelector("legend").textContent = form.dataset.rowLabel.replace("0", String(index + 1));
    row.querySelectorAll("input").forEach((input) => {
      input.name = input.name.replace(/_\d+$/, `_${index}`);
      input.dataset.testid = input.dataset.testid?.replace(/-\d+$/, `-${index}`);
      if (input.dataset.testid) input.setAttribute("data-testid", input.dataset.testid);
      input.value = "";
    });
    last.after(row);
    wire(row);
    return row;
  }

  rows(form).forEach(wire);
  form.querySelector("[data-add-row]")?.addEventListener("click", addRow);
  form.querySelector("[data-repeat-last]")?.addEventListener("click", () => {
    const last = JSON.parse(document.getElementById("last-prescription").textContent);
    if (!last) return;
    last.medications.forEach((medication, i) => {
      const row = rows(form)[i] || addRow();
      if (!row) return;
      for (const [key, value] of Object.entries(medication)) {
        const input = field(row, key);
        if (input) input.value = value;
      }
    });
    rows(form)
      .slice(last.medications.length)
      .forEach((row) => row.querySelectorAll("input").forEach((input) => (input.value = "")));
    for (const key of ["lifestyle_advice", "dietary_instructions", "warning_signs", "emergency_instructions"]) {
      const input = form.querySelector(`[name=${key}]`);
      if (input) input.value = last[key] || "";
    }
    check();
  });
  check();
}

document.querySelectorAll("form.prescription-form[data-check-url]").forEach(setUp);
