// The Stripe Payment Element. The order is marked paid only by the signed
// webhook; this page just hands the card to Stripe and returns to the order.
(function () {
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  const message = document.getElementById("payment-message");
  const button = document.getElementById("pay-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    const { error } = await stripe.confirmPayment({
      elements,
      confirmParams: { return_url: form.dataset.returnUrl },
    });
    if (error) {
      message.textContent = error.message || "The payment did not go through.";
      button.disabled = false;
    }
  });
})();
