"""Oscar's checkout app, forked for order-first payment: the order is placed in Pending payment, then paid
on our payment page (shop/checkout/views.py)."""
