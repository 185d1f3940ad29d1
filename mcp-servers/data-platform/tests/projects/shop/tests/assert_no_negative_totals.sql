-- Singular test: no customer may have paid a negative total.
select * from {{ ref('customer_orders') }} where total_amount < 0
