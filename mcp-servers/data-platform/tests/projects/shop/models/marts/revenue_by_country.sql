select country, sum(total_amount) as revenue, sum(orders) as orders
from {{ ref('customer_orders') }}
where orders >= {{ var('min_orders', 0) }}
group by country
