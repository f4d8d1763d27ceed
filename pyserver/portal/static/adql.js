// The ADQL tab: the query runs as a TAP async job (UWS), whose phase is shown as it changes;
// without JavaScript the form posts to /tap/sync instead.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("adql-form");
  const phase = document.getElementById("adql-phase");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new URLSearchParams(new FormData(form));
    body.set("PHASE", "RUN");
    phase.textContent = "submitting";
    const created = await fetch("/tap/async", { method: "POST", body, redirect: "follow" });
    const job = created.url.replace(/\/$/, "");
    for (let i = 0; i < 600; i++) {
      const now = (await (await fetch(job + "/phase")).text()).trim();
      phase.textContent = now;
      if (now === "COMPLETED") {
        phase.innerHTML = 'COMPLETED: <a href="' + job + '/results/result">the result (VOTable)</a>';
        return;
      }
      if (now === "ERROR" || now === "ABORTED") {
        phase.innerHTML = now + ': <a href="' + job + '/error">why</a>';
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });
});
