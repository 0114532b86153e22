// Progressive enhancement: upvote without a page reload. Without JS the form posts normally.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("upvote")) return;
  event.preventDefault();
  const id = form.closest("[data-id]").dataset.id;
  const on = form.querySelector("input[name=on]").value === "true";
  const response = await fetch(`/api/papers/${encodeURIComponent(id)}/upvote`, {
    method: on ? "POST" : "DELETE",
    credentials: "same-origin",
  });
  if (!response.ok) { form.submit(); return; }
  const state = await response.json();
  const button = form.querySelector("button");
  form.querySelector("input[name=on]").value = state.upvoted ? "false" : "true";
  button.classList.toggle("voted", state.upvoted);
  button.setAttribute("aria-pressed", String(state.upvoted));
  button.innerHTML = `▲ <span class="vote-count">${state.votes}</span> ${state.upvoted ? "upvoted" : "upvote"}`;
});
