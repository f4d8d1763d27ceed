// Advanced Search: the archive's own target names suggested as one types, and "select all".
document.addEventListener("DOMContentLoaded", () => {
  const target = document.getElementById("target");
  const names = document.getElementById("target-names");
  let asked = "";
  if (target && names) {
    target.addEventListener("input", async () => {
      const q = target.value.trim();
      if (q.length < 2 || q === asked) return;
      asked = q;
      const answer = await fetch("/search/targets?q=" + encodeURIComponent(q));
      if (!answer.ok || asked !== q) return;
      names.replaceChildren(...(await answer.json()).map(([name, n]) => {
        const option = document.createElement("option");
        option.value = name;
        option.label = name + " (" + n + ")";
        return option;
      }));
    });
  }
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll("input.row-select").forEach((box) => { box.checked = all.checked; });
    });
  }
});
