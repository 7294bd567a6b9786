// The product page's colour-and-size choice (shop/templates/shop/catalogue/variant_choice.html): the sizes
// sold out in the chosen colour are disabled and labelled, and the chosen variant's price, availability and
// donation replace the product's "from" figures. Every figure comes from the page (computed by the server);
// without this script the form still posts the colour and size and the server finds the variant.
(function () {
  "use strict";
  var form = document.getElementById("add_to_basket_form");
  if (!form || !form.classList.contains("p6-variant-choice")) { return; }
  var soldOut = form.dataset.soldOut || "sold out";
  var sizeSelect = form.querySelector("select[name=size]");
  var variants = Array.prototype.slice.call(form.querySelectorAll("select[name=child_id] option[value]"))
    .filter(function (option) { return option.value; });
  var price = document.querySelector(".product_main .price_color");
  var availability = document.querySelector(".product_main p.availability");
  // The donation paragraph's sentence is its first text (fundraising/partials/product_donation.html).
  var donation = document.getElementById("p6-donation");
  var sentence = donation && Array.prototype.filter.call(donation.childNodes, function (node) {
    return node.nodeType === Node.TEXT_NODE && node.textContent.trim();
  })[0];
  var sentenceTemplate = document.getElementById("p6-donation-sentence");
  var original = {
    price: price && price.textContent,
    availability: availability && availability.lastChild && availability.lastChild.textContent,
    sentence: sentence && sentence.textContent.trim()
  };

  function colour() {
    var checked = form.querySelector("input[name=colour]:checked");
    return checked ? checked.value : "";
  }

  function find(colourName, size) {
    for (var i = 0; i < variants.length; i++) {
      if (variants[i].dataset.colour === colourName && variants[i].dataset.size === size) { return variants[i]; }
    }
    return null;
  }

  function buyable(colourName, size) {
    var found = colourName ? [find(colourName, size)] : variants.filter(function (v) { return v.dataset.size === size; });
    return found.some(function (v) { return v && !v.disabled; });
  }

  function refreshSizes() {
    Array.prototype.forEach.call(sizeSelect.options, function (option) {
      var size = option.dataset.size;
      if (!size) { return; }
      var ok = buyable(colour(), size);
      option.disabled = !ok;
      option.textContent = ok ? size : size + " — " + soldOut;
      if (!ok && option.selected) { sizeSelect.value = ""; }
    });
  }

  function show(variant) {
    if (price) { price.textContent = variant ? variant.dataset.price : original.price; }
    if (availability && availability.lastChild && original.availability !== null) {
      availability.lastChild.textContent = variant ? " " + variant.dataset.availability : original.availability;
    }
    if (sentence) {
      if (variant && sentenceTemplate && variant.dataset.donation) {
        sentence.textContent = sentenceTemplate.textContent.replace("{amount}", variant.dataset.donation) + " ";
      } else {
        sentence.textContent = original.sentence + " ";
      }
    }
  }

  function refresh() {
    refreshSizes();
    var variant = colour() && sizeSelect.value ? find(colour(), sizeSelect.value) : null;
    show(variant && !variant.disabled ? variant : null);
  }

  form.addEventListener("change", refresh);
  refresh();
})();
