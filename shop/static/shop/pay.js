// The payment page: Stripe.js turns the card into a PaymentMethod id; our server creates and confirms
// the PaymentIntent (Stripe's "finalize payments on the server" flow) and may ask for 3D Secure.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var local = form.dataset.local === "1";
  // Stripe.js's own messages (an incomplete card number, a card it refuses) in the fan's language.
  var stripe = Stripe(form.dataset.publishableKey, {locale: form.dataset.locale || "auto"});
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var button = document.getElementById("pay-button");
  var messageBox = document.getElementById("payment-message");
  var actionBox = document.getElementById("payment-action");

  function show(message) {
    messageBox.textContent = message;
    messageBox.hidden = !message;
  }

  function post(fields) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    Object.keys(fields).forEach(function (key) { data.append(key, fields[key]); });
    return fetch(form.action, {method: "POST", body: data, credentials: "same-origin",
                               headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); });
  }

  // localstripe's Stripe.js stand-in has no working createPaymentMethod, but the card id of a token is
  // accepted as a PaymentIntent's payment_method: the shim DESIGN describes.
  function paymentMethodId() {
    if (local) {
      return stripe.createToken(card).then(function (result) {
        if (result.error) { throw new Error(result.error.message); }
        return result.token.card.id;
      });
    }
    return stripe.createPaymentMethod({type: "card", card: card}).then(function (result) {
      if (result.error) { throw new Error(result.error.message); }
      return result.paymentMethod.id;
    });
  }

  function authenticate(answer) {
    actionBox.hidden = false;
    var step = local ? stripe.confirmCardPayment(answer.client_secret)
                     : stripe.handleNextAction({clientSecret: answer.client_secret});
    return Promise.resolve(step).catch(function () { return null; }).then(function () {
      actionBox.hidden = true;
      return post({intent: answer.intent});
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    show("");
    button.disabled = true;
    paymentMethodId()
      .then(function (id) { return post({payment_method: id}); })
      .then(function (answer) { return answer.status === "requires_action" ? authenticate(answer) : answer; })
      .then(function (answer) {
        if (answer.status === "succeeded") {
          window.location.assign(answer.redirect_url || form.dataset.thankYou);
          return;
        }
        show(answer.message || form.dataset.failed);
        button.disabled = false;
      })
      .catch(function (error) {
        show(error.message || String(error));
        button.disabled = false;
      });
  });
}());
