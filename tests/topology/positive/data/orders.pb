
è
orders.proto	orders.v1"!
GetOrderRequest
id (	Rid"A
Order
id (	Rid
status (	Rstatus
qty (Rqty2Ö
OrderService8
GetOrder.orders.v1.GetOrderRequest.orders.v1.Order;
CancelOrder.orders.v1.GetOrderRequest.orders.v1.Orderbproto3