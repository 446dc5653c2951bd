// The profile page's meeting link: saved through the queue's own route
// (PUT /api/doctors/{id}/meet-link), which decides who may change it and tells the waiting
// patients of the new link. Identity sits below the queue, so the page asks over HTTP.

const csrf = document.querySelector('meta[name="csrf-token"]').content;

for (const form of document.querySelectorAll("form[data-meet-link]")) {
  const status = form.querySelector('[role="status"]');
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = form.elements.meet_url.value.trim();
    const response = await fetch(form.dataset.meetLink, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ meet_url: value || null }),
    });
    status.textContent = response.ok ? form.dataset.saved : form.dataset.refused;
  });
}
